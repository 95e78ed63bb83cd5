// `trueup serve` put together: the tenants' sources (sources.ts), the scheduler that turns each
// tenant's `schedule` into reconcile jobs (scheduler.ts), the shared job queue and this process's
// share of its jobs (job-queue.ts, job-runner.ts), and the HTTP side (http-server.ts). Many
// processes on many machines may run it against one staging database; docs/operations.md.
//
// Stop (SIGTERM): not ready → no new fires, no new jobs → sources commit, acknowledge and release
// their claims → running jobs get `shutdownSeconds` to finish, then go back to the queue → the
// HTTP side closes. Bounded by shutdownSeconds (+ a few seconds of closing).
import { hostname } from 'node:os';
import type { Staging } from '../../staging/database.js';
import { loadMigrations } from '../../staging/migrate.js';
import { TrueupError } from '../../staging/model/errors.js';
import type { TrueupConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { serveRoutes } from './api-routes.js';
import { pendingMigrations } from './control-reads.js';
import { type RunningHttp, startHttp } from './http-server.js';
import { type ReconcileJobData, reconcileSingletonKey } from './job-data.js';
import { JobQueue, jobIdFor } from './job-queue.js';
import { JobRunner } from './job-runner.js';
import { LockSession } from './lock-session.js';
import { ServeMetrics } from './metrics.js';
import { type Clock, type Fire, Scheduler } from './scheduler.js';
import { isLoopback, type ServeConfig } from './serve-config.js';
import { SourceSupervisor } from './sources.js';
import type { ServeWork } from './work.js';

export interface ServeOptions {
  config: Readonly<TrueupConfig>;
  /** The `serve:` block with the command line's overrides applied. */
  serve: ServeConfig;
  /** The resolved bearer token (config `serve.token`), if any. */
  token?: string | undefined;
  staging: Staging;
  /** URL of the staging database (the job queue's schema lives there). */
  stagingUrl: string;
  logger: Logger;
  work: ServeWork;
  /** Which parts run here (default all): a process may only capture, or only work jobs. */
  parts?: { sources?: boolean; scheduler?: boolean; jobs?: boolean };
  clock?: Clock;
  /** Test knobs: queue polling (s), polled-source takeover and stream restart waits (ms). */
  tuning?: {
    pollingIntervalSeconds?: number;
    claimRetryMs?: number;
    restartMs?: number;
    reapEveryMs?: number;
    deferSeconds?: number;
  };
}

export interface RunningServe {
  url: string;
  port: number;
  metrics: ServeMetrics;
  queue: JobQueue;
  /** Stops as described at the head of this file; resolves when done. */
  stop(): Promise<{ handedBack: number; sourcesStopped: boolean }>;
}

/** serve would listen beyond this machine without a token. */
export class ServeBindingError extends TrueupError {
  override name = 'ServeBindingError';
}

/** An off-loopback address without a token is refused before anything starts. */
export function checkBinding(host: string, token: string | undefined): void {
  if (!isLoopback(host) && !token)
    throw new ServeBindingError(
      `serve would listen on ${host} without a token: set serve.token to a secret reference (e.g. \${env:TRUEUP_SERVE_TOKEN}), or bind to 127.0.0.1`,
    );
}

export async function startServe(o: ServeOptions): Promise<RunningServe> {
  checkBinding(o.serve.host, o.token);
  const parts = { sources: true, scheduler: true, jobs: true, ...o.parts };
  const log = o.logger.child({ component: 'serve', host: hostname(), pid: process.pid });
  const tune = o.tuning ?? {};
  const pgOptions = o.staging.pool.options;
  const queue = await JobQueue.open({
    url: o.stagingUrl,
    pool: o.staging.pool,
    logger: log,
    ...(tune.pollingIntervalSeconds ? { pollingIntervalSeconds: tune.pollingIntervalSeconds } : {}),
  });
  const sourceLocks = new LockSession(pgOptions, 'sources');
  let sources: SourceSupervisor | undefined;
  let stopping = false;
  const cdcSystems = Object.entries(o.config.tenants).flatMap(([tenant, t]) =>
    Object.entries(t.systems)
      .filter(([, s]) => o.work.captureMode(s) === 'continuous')
      .map(([system, s]) => ({ tenant, system, config: s })),
  );
  const metrics = new ServeMetrics({
    pool: o.staging.pool,
    cacheMs: o.serve.metricsCacheSeconds * 1000,
    logger: log,
    jobCounts: () => queue.stateCounts(),
    cdcFigures: async () => {
      const all = await Promise.all(
        cdcSystems.map(async (c) => {
          try {
            const f = await o.work.cdcFigures(c.tenant, c.system, c.config);
            return f ? [{ tenant: c.tenant, system: c.system, ...f }] : [];
          } catch (err) {
            log.debug({ err, tenant: c.tenant, system: c.system }, 'could not read the slot figures');
            return [];
          }
        }),
      );
      return all.flat();
    },
    sources: () => sources?.status() ?? [],
  });

  const runner = new JobRunner({
    config: o.config,
    queue,
    work: o.work,
    pgOptions,
    metrics,
    logger: log,
    confirmWaitMs: o.serve.confirmWaitMs,
    concurrency: o.serve.concurrency,
    ...(tune.deferSeconds ? { deferSeconds: tune.deferSeconds } : {}),
  });
  if (parts.jobs) await runner.start();

  const fire = async (f: Fire) => {
    const data: ReconcileJobData = {
      tenant: f.tenant,
      full: false,
      trigger: 'schedule',
      scheduledAt: new Date(f.at).toISOString(),
    };
    const id = await queue.send('reconcile', data, {
      id: jobIdFor('reconcile', f.tenant, data.scheduledAt!),
      singletonKey: reconcileSingletonKey(data),
    });
    metrics.fired(f.tenant, id ? 'enqueued' : 'joined');
    log.info(
      { tenant: f.tenant, scheduledAt: data.scheduledAt, job: id, lateMs: f.lateMs },
      id ? 'scheduled run queued' : 'scheduled run already queued',
    );
  };
  const scheduled = Object.entries(o.config.tenants).flatMap(([tenant, t]) =>
    t.schedule ? [{ tenant, expression: t.schedule, timeZone: t.timezone }] : [],
  );
  const scheduler = new Scheduler(scheduled, {
    ...(o.clock ? { clock: o.clock } : {}),
    graceMs: o.serve.missedRunGraceSeconds * 1000,
    onFire: fire,
    onMissed: (f) => {
      metrics.fired(f.tenant, 'missed');
      log.warn(
        { tenant: f.tenant, scheduledAt: new Date(f.at).toISOString(), lateMs: f.lateMs },
        'scheduled run missed: this process was not up or was blocked at that time',
      );
    },
    onError: (err, f) => log.error({ err, tenant: f.tenant }, 'could not queue the scheduled run'),
  });
  if (parts.scheduler) scheduler.start();

  if (parts.sources) {
    sources = new SourceSupervisor({
      tenants: o.config.tenants,
      work: o.work,
      locks: sourceLocks,
      pollMs: o.serve.pollSeconds * 1000,
      claimRetryMs: tune.claimRetryMs ?? 5_000,
      restartMs: tune.restartMs ?? 30_000,
      logger: log,
      observer: { onReport: (s, r) => metrics.capture(s, r) },
    });
    sourceLocks.onLost((err) =>
      log.warn({ err }, 'lost the staging connection holding the poll locks; claiming again'),
    );
    sources.start();
  }

  // Jobs whose process died are handed back within about a minute, by whichever process looks first.
  const reaper = setInterval(() => {
    queue
      .reapOrphans(60)
      .then((orphans) => {
        for (const j of orphans) log.warn(j, 'job of a serve process that ended: handed back to the queue');
      })
      .catch((err) => log.warn({ err }, 'could not look for orphaned jobs'));
  }, tune.reapEveryMs ?? 30_000);
  reaper.unref();

  const migrations = await loadMigrations();
  const ready = async () => {
    const checks: Record<string, string> = {};
    if (stopping) checks.serve = 'stopping';
    try {
      const pending = await pendingMigrations(o.staging.pool, migrations);
      checks.staging = 'ok';
      checks.migrations = pending.length ? `pending: ${pending.join(', ')} (run \`trueup migrate\`)` : 'ok';
    } catch (err) {
      checks.staging = `unreachable: ${(err as Error).message}`;
    }
    return { ready: Object.values(checks).every((c) => c === 'ok'), checks };
  };
  const status = () => ({
    host: hostname(),
    pid: process.pid,
    stopping,
    parts,
    sources: sources?.status() ?? [],
    schedule: scheduler
      .upcoming()
      .map((u) => ({ tenant: u.tenant, next: Number.isNaN(u.at) ? null : new Date(u.at).toISOString() })),
    jobs: runner.active(),
  });

  let http: RunningHttp;
  try {
    http = await startHttp({
      host: o.serve.host,
      port: o.serve.port,
      ...(o.token ? { token: o.token } : {}),
      routes: serveRoutes({
        config: o.config,
        staging: o.staging,
        queue,
        metrics,
        ready,
        status,
        rereadable: (c) => o.work.rereadable(c),
      }),
      onError: (err, req) => log.error({ err, path: req.url }, 'HTTP request failed'),
    });
  } catch (err) {
    scheduler.stop();
    clearInterval(reaper);
    await sources?.stop(1000);
    await sourceLocks.close();
    await queue.close(1000);
    throw err;
  }
  log.info(
    { url: http.url, tenants: Object.keys(o.config.tenants).length, scheduled: scheduled.length, parts },
    'serve started',
  );

  let stopped: Promise<{ handedBack: number; sourcesStopped: boolean }> | undefined;
  return {
    url: http.url,
    port: http.port,
    metrics,
    queue,
    stop: () =>
      (stopped ??= (async () => {
        stopping = true;
        const graceMs = o.serve.shutdownSeconds * 1000;
        log.info({ graceMs }, 'serve stopping');
        scheduler.stop();
        clearInterval(reaper);
        await queue.stopWorking();
        const [sourcesStopped, drained] = await Promise.all([
          sources ? sources.stop(graceMs) : Promise.resolve(true),
          runner.drain(graceMs),
        ]);
        await sourceLocks.close();
        await queue.close(1000);
        // After pg-boss stopped (it fails what it still sees running): back in the queue, to run now.
        const reason = 'handed back: the serve process running it stopped';
        await queue
          .handBack(drained.left, reason)
          .catch((err) => log.error({ err }, 'could not hand jobs back'));
        await runner.handBackRuns(drained.left, reason);
        await http.close();
        log.info(
          { sourcesStopped, finished: drained.finished, handedBack: drained.left.length },
          'serve stopped',
        );
        return { handedBack: drained.left.length, sourcesStopped };
      })()),
  };
}

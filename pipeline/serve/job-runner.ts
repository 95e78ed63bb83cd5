// Runs the queue's jobs in this process: reconcile, backfill, apply. Each running job holds, on a
// lock session of its own, 'job <id>' (so the queue can tell a job whose process died, see
// JobQueue.reapOrphans) and — a reconcile — 'reconcile <entity>' of each entity it covers: a job
// that finds one held (another process reconciles that tenant × entity) defers itself instead of
// running beside it. On stop, jobs still running after the grace period are handed back to the
// queue (to run now in another process, or in this one after its restart), their runs marked failed.
import type pg from 'pg';
import type { ZodType } from 'zod';
import { TrueupError } from '../../staging/model/errors.js';
import type { TrueupConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import {
  applyJobData,
  backfillJobData,
  describeIssues,
  jobEntities,
  reconcileJobData,
  reconcileSingletonKey,
} from './job-data.js';
import type { JobKind, JobQueue, QueuedJob } from './job-queue.js';
import { LOCK_NAMES, type LockKey, LockSession } from './lock-session.js';
import type { ServeMetrics } from './metrics.js';
import type { ServeWork } from './work.js';

export interface JobRunnerOptions {
  config: Readonly<TrueupConfig>;
  queue: JobQueue;
  work: ServeWork;
  /** Connection settings for the jobs' lock sessions (the staging pool's). */
  pgOptions: pg.PoolConfig;
  metrics?: ServeMetrics;
  logger: Logger;
  confirmWaitMs: number;
  concurrency: number;
  /** Seconds a deferred job waits before it is tried again. */
  deferSeconds?: number;
}

interface Running {
  kind: JobKind;
  id: string;
  tenant: string;
  startedAt: Date;
  done: Promise<unknown>;
}

/** A job no process can run (its data is invalid): retrying would not help. */
class BadJobError extends TrueupError {
  override name = 'BadJobError';
}

function parse<T>(schema: ZodType<T>, job: QueuedJob<unknown>): T {
  const r = schema.safeParse(job.data);
  if (!r.success)
    throw new BadJobError(`${job.kind} job ${job.id} has invalid data: ${describeIssues(r.error)}`);
  return r.data;
}

export class JobRunner {
  private readonly running = new Map<string, Running>();
  /** Jobs handed back at shutdown: their handlers must not complete or fail them in pg-boss. */
  private readonly handedBack = new Set<string>();

  constructor(private readonly o: JobRunnerOptions) {}

  async start(): Promise<void> {
    const { queue, concurrency } = this.o;
    await queue.work('reconcile', concurrency, (job) => this.run(job, (j, s) => this.reconcile(j, s)));
    await queue.work('backfill', 1, (job) => this.run(job, (j, s) => this.backfill(j, s)));
    await queue.work('apply', 1, (job) => this.run(job, (j, s) => this.apply(j, s)));
  }

  /** Jobs running now (the status endpoint). */
  active(): { kind: JobKind; id: string; tenant: string; startedAt: string }[] {
    return [...this.running.values()].map((r) => ({
      kind: r.kind,
      id: r.id,
      tenant: r.tenant,
      startedAt: r.startedAt.toISOString(),
    }));
  }

  /**
   * Waits up to `graceMs` for running jobs (call after the queue stopped fetching). Returns the
   * ones still running: the caller hands them back to the queue (JobQueue.handBack) once pg-boss
   * has stopped, and marks their runs failed (handBackRuns). They never report to pg-boss again.
   */
  async drain(
    graceMs: number,
  ): Promise<{ finished: number; left: { kind: JobKind; id: string; tenant: string; startedAt: Date }[] }> {
    const all = [...this.running.values()];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(all.map((r) => r.done)),
      new Promise((r) => (timer = setTimeout(r, graceMs))),
    ]);
    clearTimeout(timer);
    const left = [...this.running.values()];
    for (const r of left) {
      this.handedBack.add(r.id);
      this.o.logger.warn(
        { job: r.id, kind: r.kind, tenant: r.tenant },
        'job still running at shutdown; handing it back to the queue',
      );
      this.o.metrics?.job(r.kind, 'handed_back', (Date.now() - r.startedAt.getTime()) / 1000);
    }
    return {
      finished: all.length - left.length,
      left: left.map(({ kind, id, tenant, startedAt }) => ({ kind, id, tenant, startedAt })),
    };
  }

  /** Marks the runs of handed-back reconcile jobs failed (their jobs run again elsewhere). */
  async handBackRuns(
    left: readonly { kind: JobKind; tenant: string; startedAt: Date }[],
    reason: string,
  ): Promise<void> {
    for (const r of left)
      if (r.kind === 'reconcile')
        await this.o.work
          .abandonRuns(r.tenant, r.startedAt, reason)
          .catch((err) =>
            this.o.logger.error({ err, tenant: r.tenant }, 'could not mark the interrupted run failed'),
          );
  }

  private async run(
    job: QueuedJob<unknown>,
    body: (job: QueuedJob<unknown>, locks: LockSession) => Promise<object>,
  ): Promise<object> {
    const tenant = String((job.data as { tenant?: unknown } | null)?.tenant ?? '');
    const started = new Date();
    const log = this.o.logger.child({ job: job.id, kind: job.kind, tenant });
    const locks = new LockSession(this.o.pgOptions, `${job.kind} job`);
    const done = (async () => {
      await locks.tryLock({ tenant, name: LOCK_NAMES.job(job.id) });
      return body(job, locks);
    })();
    this.running.set(job.id, { kind: job.kind, id: job.id, tenant, startedAt: started, done });
    // A job handed back at shutdown belongs to the queue again: its handler ends in silence.
    const silenced = <T>(value: T): Promise<T> =>
      this.handedBack.has(job.id) ? new Promise<T>(() => {}) : Promise.resolve(value);
    try {
      const out = await done;
      if (this.handedBack.has(job.id)) return silenced(out);
      const deferred = (out as { deferred?: boolean }).deferred === true;
      const alerting = (out as { alerting?: boolean }).alerting === true;
      this.o.metrics?.job(
        job.kind,
        deferred ? 'deferred' : alerting ? 'alerting' : 'succeeded',
        (Date.now() - started.getTime()) / 1000,
      );
      if (alerting) log.error({ out }, 'job finished over the dead-letter threshold');
      else log.info({ out }, deferred ? 'job deferred' : 'job finished');
      return out;
    } catch (err) {
      if (this.handedBack.has(job.id)) return silenced({});
      this.o.metrics?.job(job.kind, 'failed', (Date.now() - started.getTime()) / 1000);
      log.error({ err }, 'job failed');
      if (err instanceof BadJobError) return { error: err.message };
      throw err;
    } finally {
      this.running.delete(job.id);
      await locks.close();
    }
  }

  private tenantConfig(tenant: string) {
    const t = Object.hasOwn(this.o.config.tenants, tenant) ? this.o.config.tenants[tenant] : undefined;
    // Another process may know it (a config being rolled out): failed here, retried by the queue.
    if (!t)
      throw new TrueupError(`tenant "${tenant}" is not in this process's config`, { subject: { tenant } });
    return t;
  }

  private async reconcile(job: QueuedJob<unknown>, locks: LockSession): Promise<object> {
    const d = parse(reconcileJobData, job);
    const t = this.tenantConfig(d.tenant);
    const entities = jobEntities(d, t.entities);
    if (!entities.length) return { skipped: 'no enabled entities' };
    const keys: LockKey[] = entities.map((e) => ({ tenant: d.tenant, name: LOCK_NAMES.reconcile(e) }));
    if (!(await locks.tryLockAll(keys))) {
      // Another process reconciles one of these entities of the tenant: run after it, not beside it.
      const seconds = this.o.deferSeconds ?? 30;
      const next = await this.o.queue.send('reconcile', d, {
        singletonKey: reconcileSingletonKey(d),
        startAfterSeconds: seconds,
      });
      return { deferred: true, retryInSeconds: seconds, next };
    }
    const out = await this.o.work.reconcile({
      tenant: d.tenant,
      tenantConfig: t,
      entities,
      full: d.full,
      confirmWaitMs: this.o.confirmWaitMs,
      job: { id: job.id, scheduledAt: d.scheduledAt },
    });
    if (out.status === 'failed')
      throw new Error(
        `run ${out.runId} of tenant ${d.tenant} failed: ${out.errors.map((e) => `${e.entity}: ${e.message}`).join('; ')}`,
      );
    // A scheduled run's policy approvals are applied right after it when the tenant says so, as a
    // job of its own (retried on its own when a target system is down).
    if (d.trigger === 'schedule' && t.actions.applyAfterRun && t.actions.policy === 'auto_approve') {
      const apply = await this.o.queue.send(
        'apply',
        { tenant: d.tenant, runId: out.runId },
        { singletonKey: d.tenant },
      );
      return { ...out, apply };
    }
    return out;
  }

  private async backfill(job: QueuedJob<unknown>, _locks: LockSession): Promise<object> {
    const d = parse(backfillJobData, job);
    const t = this.tenantConfig(d.tenant);
    const report = await this.o.work.backfill({ ...d, tenantConfig: t });
    if (report.status === 'failed') throw new Error(report.error ?? 'the backfill failed');
    // Over sync.maxDeadLetterShare (what makes `trueup sync` exit 1): the job completes alerting —
    // its output names the mapping, it is logged as an error and counted — rather than failing:
    // a retry would re-read the same records into the same dead letters; the fix is the mapping.
    const alerts = report.deadLetterAlerts ?? [];
    if (!alerts.length) return report;
    for (const a of alerts)
      this.o.logger.error(
        { job: job.id, kind: job.kind, tenant: d.tenant, system: d.system, entity: a.entity },
        `over the dead-letter threshold: ${a.message}`,
      );
    this.o.metrics?.alerted({ tenant: d.tenant, system: d.system }, report);
    return { ...report, alerting: true };
  }

  private async apply(job: QueuedJob<unknown>, _locks: LockSession): Promise<object> {
    const d = parse(applyJobData, job);
    const out = await this.o.work.apply({
      tenant: d.tenant,
      tenantConfig: this.tenantConfig(d.tenant),
      runId: d.runId,
    });
    // Writes are at most once (the apply log): a retry finishes what could not be written now.
    if (out.errors.length) throw new Error(`apply of tenant ${d.tenant}: ${out.errors.join('; ')}`);
    return out;
  }
}

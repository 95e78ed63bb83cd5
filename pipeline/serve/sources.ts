// Keeps every tenant's sources running in a serve process.
//
// Continuous sources (CDC) run through the connector's stream. Each has one reader across all
// serve processes: the connector's slot claim (an advisory lock) makes every other process wait,
// retrying the claim every `stream.claimRetryMs` (5 s by default), so when the holder dies its
// slots are taken over within seconds. A stream that fails is started again after `restartMs`.
//
// Polled sources (API, CSV) run a pass every `pollMs` in the one process that holds their
// 'poll <system>' lock (lock-session.ts); the others try to take it every `claimRetryMs`. While a
// pass runs, that process also holds 'pass <system>': in-flight confirmation waits for sources
// with a pass in progress (or a held slot claim), not for sources nobody is reading.
//
// Per source:   starting ─> streaming ─(failed)─> failed ─(restartMs)─> streaming      continuous
//               starting ─> waiting ⇄ polling ⇄ passing                                  polled
// and every state ─(stop)─> stopped.
import { sleep } from '../../staging/model/backoff.js';
import type { TenantConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { LOCK_NAMES, type LockSession } from './lock-session.js';
import type { CaptureReport, ServeWork } from './work.js';

export type SourceState = 'starting' | 'streaming' | 'failed' | 'waiting' | 'polling' | 'passing' | 'stopped';

export interface SourceStatus {
  tenant: string;
  system: string;
  kind: string;
  mode: 'continuous' | 'passes';
  state: SourceState;
  since: string;
  lastError?: string;
  /** The last pass (or ended stream): how it ended, its per-entity figures and dead-letter alerts. */
  lastPass?: PassSummary;
}

export interface PassSummary {
  status: CaptureReport['status'];
  finishedAt: string;
  entities: NonNullable<CaptureReport['entities']>;
  /** Entities over sync.maxDeadLetterShare this pass (empty: none); each message names the mapping. */
  deadLetterAlerts: NonNullable<CaptureReport['deadLetterAlerts']>;
}

export interface SourceObserver {
  onReport(s: SourceStatus, report: CaptureReport): void;
  onState?(s: SourceStatus): void;
}

export interface SourceSupervisorOptions {
  tenants: Readonly<Record<string, TenantConfig>>;
  work: ServeWork;
  /** Holds the 'poll' and 'pass' locks of the polled sources this process runs. */
  locks: LockSession;
  pollMs: number;
  /** How often a process tries to take over a polled source another process holds. */
  claimRetryMs: number;
  /** Wait before starting a failed continuous source again. */
  restartMs: number;
  logger: Logger;
  observer?: SourceObserver;
}

export class SourceSupervisor {
  private readonly abort = new AbortController();
  private readonly statuses: SourceStatus[] = [];
  private readonly loops: Promise<void>[] = [];

  constructor(private readonly o: SourceSupervisorOptions) {}

  start(): void {
    for (const [tenant, t] of Object.entries(this.o.tenants))
      for (const [system, config] of Object.entries(t.systems)) {
        const mode = this.o.work.captureMode(config);
        if (!mode) {
          this.o.logger.error(
            { tenant, system, kind: config.kind },
            'no connector for this system kind; not run',
          );
          continue;
        }
        const s: SourceStatus = {
          tenant,
          system,
          kind: config.kind,
          mode,
          state: 'starting',
          since: new Date().toISOString(),
        };
        this.statuses.push(s);
        this.loops.push(mode === 'continuous' ? this.stream(s, t) : this.poll(s, t));
      }
  }

  status(): readonly SourceStatus[] {
    return this.statuses;
  }

  /**
   * Asks every source to stop (streams commit and acknowledge what they hold and release their
   * claims; a pass in progress runs to its end) and waits up to `timeoutMs`. True when all stopped.
   */
  async stop(timeoutMs: number): Promise<boolean> {
    this.abort.abort();
    let timer: NodeJS.Timeout | undefined;
    const all = Promise.allSettled(this.loops).then(() => true);
    const done = await Promise.race([
      all,
      new Promise<false>((r) => (timer = setTimeout(() => r(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return done;
  }

  private set(s: SourceStatus, state: SourceState, err?: string): void {
    if (s.state === state && !err) return;
    s.state = state;
    s.since = new Date().toISOString();
    if (err !== undefined) s.lastError = err;
    this.o.observer?.onState?.(s);
  }

  /**
   * Records a pass as `trueup sync` reports one: the per-entity figures in the log and in the
   * source's status (/api/status), and each entity over sync.maxDeadLetterShare logged as an
   * error naming the mapping (and counted by the observer: trueup_dead_letter_alerts_total).
   */
  private report(s: SourceStatus, r: CaptureReport): void {
    if (r.error) s.lastError = r.error;
    const alerts = r.deadLetterAlerts ?? [];
    s.lastPass = {
      status: r.status,
      finishedAt: new Date().toISOString(),
      entities: r.entities ?? [],
      deadLetterAlerts: alerts,
    };
    const log = this.o.logger.child({ tenant: s.tenant, system: s.system, source: s.kind });
    if (r.entities?.length)
      log.info(
        {
          status: r.status,
          entities: r.entities.map(({ reasons: _r, ...figures }) => figures),
          reasons: r.entities.flatMap((e) => e.reasons.map((g) => ({ entity: e.entity, ...g }))),
        },
        'pass staged, per entity',
      );
    for (const a of alerts)
      log.error(
        { entity: a.entity, deadLetters: a.deadLetters, read: a.read },
        `over the dead-letter threshold: ${a.message}`,
      );
    this.o.observer?.onReport(s, r);
  }

  private async stream(s: SourceStatus, t: TenantConfig): Promise<void> {
    const signal = this.abort.signal;
    const log = this.o.logger.child({ tenant: s.tenant, system: s.system, source: s.kind });
    const config = t.systems[s.system]!;
    while (!signal.aborted) {
      this.set(s, 'streaming');
      const r = await this.o.work.stream(s.tenant, s.system, config, t, signal).catch(
        (err: unknown): CaptureReport => ({
          status: 'failed',
          error: (err as Error)?.message ?? String(err),
          requests: 0,
          retries: 0,
          throttled: 0,
          streams: [],
        }),
      );
      this.report(s, r);
      if (signal.aborted) break;
      this.set(s, 'failed', r.error ?? `the stream ended (${r.status})`);
      log.error({ error: r.error, restartInMs: this.o.restartMs }, 'source stream ended; starting it again');
      await sleep(this.o.restartMs, signal);
    }
    this.set(s, 'stopped');
  }

  private async poll(s: SourceStatus, t: TenantConfig): Promise<void> {
    const signal = this.abort.signal;
    const log = this.o.logger.child({ tenant: s.tenant, system: s.system, source: s.kind });
    const config = t.systems[s.system]!;
    const owner = { tenant: s.tenant, name: LOCK_NAMES.poll(s.system) };
    const pass = { tenant: s.tenant, name: LOCK_NAMES.pass(s.system) };
    let waitingLogged = false;
    while (!signal.aborted) {
      let owned = false;
      try {
        owned = await this.o.locks.tryLock(owner);
      } catch (err) {
        log.warn({ err }, 'could not try the poll lock; trying again');
      }
      if (!owned) {
        if (!waitingLogged) log.info('another serve process polls this source; waiting to take over');
        waitingLogged = true;
        this.set(s, 'waiting');
        await sleep(this.o.claimRetryMs, signal);
        continue;
      }
      if (waitingLogged) log.info('took over polling this source');
      waitingLogged = false;
      // The lock session ends on a lost connection: then the lock is gone and so is the ownership.
      while (!signal.aborted && this.o.locks.isHeld(owner)) {
        let r: CaptureReport;
        try {
          await this.o.locks.tryLock(pass);
          this.set(s, 'passing');
          r = await this.o.work.pass(s.tenant, s.system, config, t, signal);
        } catch (err) {
          r = {
            status: 'failed',
            error: (err as Error)?.message ?? String(err),
            requests: 0,
            retries: 0,
            throttled: 0,
            streams: [],
          };
        } finally {
          await this.o.locks.unlock(pass);
        }
        this.report(s, r);
        if (r.status === 'failed') log.error({ error: r.error }, 'pass failed; the next pass tries again');
        this.set(s, 'polling');
        await sleep(this.o.pollMs, signal);
      }
    }
    await this.o.locks.unlock(owner).catch(() => {});
    this.set(s, 'stopped');
  }
}

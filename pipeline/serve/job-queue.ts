// The job queue every `serve` process shares: pg-boss 10 in schema `pgboss` of the staging
// database, one queue per job kind (reconcile, backfill, apply).
//
// Exactly once, without a leader: every process runs the same scheduler; a fire sends a job whose
// id is derived from (kind, tenant, fire instant), and the second insert of that id is a no-op in
// Postgres (pg-boss inserts ON CONFLICT DO NOTHING on the (name, id) key). This holds whatever the
// processes' timers and clocks do — unlike sendThrottled/singletonSeconds, whose time bucket is
// taken from each sender's own `now()` so that two senders either side of a bucket boundary make
// two jobs — and unlike pg-boss's own schedule(), which allows one schedule per queue name (not
// per tenant), fires at most once a minute and follows cron-parser's DST rules, not ours.
//
// Overlap: the reconcile and apply queues use pg-boss's `short` policy with the tenant as
// singletonKey (a run asked for while one is already queued joins it). The stricter `singleton`
// and `stately` policies are not used: in pg-boss 10 a queued job whose key has an active job
// makes the fetch fail on a unique index, and that blocks every other job of the queue behind it
// (timgit/pg-boss#535). No two runs of one tenant × entity overlap because the job takes that
// tenant × entity's advisory lock (lock-session.ts) and, finding it held, defers itself.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import PgBoss from 'pg-boss';
import type { Logger } from '../log/logger.js';

export const JOB_KINDS = ['reconcile', 'backfill', 'apply'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export const JOB_SCHEMA = 'pgboss';
/** Arbitrary, stable: "trueup job queue set-up" (the migrations use 7_460_118_031). */
const SETUP_LOCK_KEY = 7_460_118_032;

const HOUR = 3600;
const QUEUES: Record<JobKind, PgBoss.Queue> = {
  reconcile: {
    name: 'reconcile',
    policy: 'short',
    retryLimit: 2,
    retryDelay: 60,
    retryBackoff: true,
    expireInSeconds: 6 * HOUR,
  },
  backfill: {
    name: 'backfill',
    policy: 'standard',
    retryLimit: 2,
    retryDelay: 60,
    retryBackoff: true,
    expireInSeconds: 6 * HOUR,
  },
  apply: {
    name: 'apply',
    policy: 'short',
    retryLimit: 2,
    retryDelay: 60,
    retryBackoff: true,
    expireInSeconds: HOUR,
  },
};

export interface QueuedJob<T> {
  id: string;
  kind: JobKind;
  data: T;
}

export interface JobView {
  id: string;
  kind: string;
  state: string;
  data: unknown;
  output: unknown;
  retryCount: number;
  createdOn: string | null;
  startedOn: string | null;
  completedOn: string | null;
}

/**
 * A UUID (RFC 4122 version 5 layout) from `parts`: the same parts give the same id in every
 * process, which is what makes a scheduled fire one job.
 */
export function jobIdFor(...parts: string[]): string {
  const h = createHash('sha1')
    .update(`trueup\u0000${parts.join('\u0000')}`)
    .digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export interface JobQueueOptions {
  url: string;
  /** A pool on the same database for trueup's own reads and hand-backs (usable after pg-boss stopped). */
  pool: pg.Pool;
  logger: Logger;
  /** Connections of pg-boss's own pool. */
  poolSize?: number;
  /** How often an idle worker looks for a job (s, ≥ 0.5; tests shorten it). */
  pollingIntervalSeconds?: number;
}

export class JobQueue {
  private readonly workers: string[] = [];

  private constructor(
    private readonly boss: PgBoss,
    private readonly opts: JobQueueOptions,
  ) {}

  /** Installs or upgrades the pgboss schema (pg-boss serialises concurrent installers) and the queues. */
  static async open(opts: JobQueueOptions): Promise<JobQueue> {
    const boss = new PgBoss({
      connectionString: opts.url,
      schema: JOB_SCHEMA,
      application_name: 'trueup serve jobs',
      max: opts.poolSize ?? 4,
      // trueup's scheduler sends the jobs (see the head of this file): no pg-boss cron.
      schedule: false,
      supervise: true,
      migrate: true,
    });
    boss.on('error', (err) => opts.logger.error({ err, component: 'pg-boss' }, 'job queue error'));
    // Processes starting together would create the queues' partitions at once and deadlock in
    // Postgres: the set-up runs under one session lock on the staging database.
    const setup = await opts.pool.connect();
    try {
      await setup.query('SELECT pg_advisory_lock($1)', [SETUP_LOCK_KEY]);
      await boss.start();
      for (const q of Object.values(QUEUES)) {
        await boss.createQueue(q.name, q);
        await boss.updateQueue(q.name, q);
      }
    } catch (err) {
      await boss.stop({ graceful: false, wait: true }).catch(() => {});
      throw err;
    } finally {
      await setup.query('SELECT pg_advisory_unlock($1)', [SETUP_LOCK_KEY]).catch(() => {});
      setup.release();
    }
    return new JobQueue(boss, opts);
  }

  /** Queues a job: its id, or null when that id exists already or (short policy) the tenant has one queued. */
  async send<T extends object>(
    kind: JobKind,
    data: T,
    o: { id?: string; singletonKey?: string; startAfterSeconds?: number } = {},
  ): Promise<string | null> {
    return this.boss.send(kind, data, {
      ...(o.id ? { id: o.id } : {}),
      ...(o.singletonKey ? { singletonKey: o.singletonKey } : {}),
      ...(o.startAfterSeconds ? { startAfter: o.startAfterSeconds } : {}),
    });
  }

  /**
   * Runs `handler` for jobs of `kind`, `concurrency` at a time. The handler's result becomes the
   * job's output; a throw fails it (retried per the queue's retry policy).
   */
  async work<T>(
    kind: JobKind,
    concurrency: number,
    handler: (job: QueuedJob<T>) => Promise<object>,
  ): Promise<void> {
    const interval = this.opts.pollingIntervalSeconds ?? 2;
    // pg-boss 10 runs one job at a time per worker: `concurrency` workers.
    for (let i = 0; i < concurrency; i++) {
      const id = await this.boss.work<T>(
        kind,
        { batchSize: 1, pollingIntervalSeconds: interval },
        async ([job]) => (job ? handler({ id: job.id, kind, data: job.data }) : {}),
      );
      this.workers.push(id);
    }
  }

  /** Stops fetching new jobs; jobs already running go on. */
  async stopWorking(): Promise<void> {
    const ids = this.workers.splice(0);
    for (const id of ids) await this.boss.offWork({ id });
  }

  /** Hands running jobs back to the queue (retry) after `timeoutMs`, then closes pg-boss's pool. */
  async close(timeoutMs: number): Promise<void> {
    await this.boss.stop({ graceful: true, wait: true, timeout: Math.max(1000, timeoutMs) });
  }

  /**
   * Puts jobs back in the queue to run again now: a job this process stopped running, or one whose
   * process went away. Not a failure of the job, so no retry delay (pg-boss's fail() would add its
   * backoff). Runs on trueup's own pool, so it works after pg-boss stopped (and failed them).
   */
  async handBack(jobs: readonly { kind: JobKind; id: string }[], reason: string): Promise<number> {
    if (!jobs.length) return 0;
    const res = await this.opts.pool.query(
      `UPDATE ${JOB_SCHEMA}.job SET state = 'retry', start_after = now(), output = $3::jsonb
        WHERE (name, id) IN (SELECT * FROM unnest($1::text[], $2::uuid[])) AND state IN ('active', 'retry', 'failed')`,
      [jobs.map((j) => j.kind), jobs.map((j) => j.id), JSON.stringify({ handedBack: reason })],
    );
    return res.rowCount ?? 0;
  }

  async job(kind: JobKind, id: string): Promise<JobView | undefined> {
    const j = await this.boss.getJobById<unknown>(kind, id, { includeArchive: true });
    if (!j) return undefined;
    const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);
    return {
      id: j.id,
      kind: j.name,
      state: j.state,
      data: j.data,
      output: j.output ?? null,
      retryCount: j.retryCount,
      createdOn: iso(j.createdOn),
      startedOn: iso(j.startedOn),
      completedOn: iso(j.completedOn),
    };
  }

  /** Jobs by queue and state (the `trueup_jobs` metric). */
  async stateCounts(): Promise<{ kind: string; state: string; count: number }[]> {
    const { rows } = await this.opts.pool.query(
      `SELECT name AS kind, state::text AS state, count(*)::int AS count FROM ${JOB_SCHEMA}.job WHERE name = ANY($1) GROUP BY 1, 2`,
      [[...JOB_KINDS]],
    );
    return rows as { kind: string; state: string; count: number }[];
  }

  /**
   * Active jobs whose process is gone: a running job holds the advisory lock 'job <id>' (keyed by
   * its tenant) for as long as it runs, so an active job older than `graceSeconds` without it was
   * left by a process that died. They are handed back now rather than failed when they expire.
   */
  async reapOrphans(graceSeconds: number): Promise<{ kind: JobKind; id: string; tenant: string }[]> {
    const { rows } = await this.opts.pool.query(
      `SELECT j.name AS kind, j.id::text AS id, j.data->>'tenant' AS tenant
         FROM ${JOB_SCHEMA}.job j
        WHERE j.name = ANY($1) AND j.state = 'active' AND j.started_on < now() - make_interval(secs => $2)
          AND NOT EXISTS (
            SELECT 1 FROM pg_locks l
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND l.classid = (hashtext(coalesce(j.data->>'tenant', ''))::bigint & 4294967295)::oid
               AND l.objid = (hashtext('job ' || j.id::text)::bigint & 4294967295)::oid)`,
      [[...JOB_KINDS], graceSeconds],
    );
    const orphans = rows as { kind: JobKind; id: string; tenant: string }[];
    await this.handBack(orphans, 'the serve process running this job ended');
    return orphans;
  }
}

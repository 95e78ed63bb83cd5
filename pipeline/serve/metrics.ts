// /metrics of `serve` (prom-client): figures read from the staging database at scrape time (every
// process reports the same cluster-wide values; cached `metricsCacheSeconds` so several scrapers
// cost one query set), the CDC sources' slot figures read on the sources, and counters of the
// work this process did. docs/operations.md says what each metric means and what to alert on.
import type pg from 'pg';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from '../log/logger.js';
import { type Figures, readFigures } from './control-reads.js';
import type { SourceStatus } from './sources.js';
import type { CaptureReport, CdcFigures } from './work.js';

export interface MetricsInputs {
  pool: pg.Pool;
  cacheMs: number;
  logger: Logger;
  /** Jobs per queue and state (pg-boss). */
  jobCounts(): Promise<{ kind: string; state: string; count: number }[]>;
  /** Slot figures of every CDC source this process is configured with. */
  cdcFigures(): Promise<({ tenant: string; system: string } & CdcFigures)[]>;
  sources(): readonly SourceStatus[];
}

/** Caches one loaded value for `ttlMs`; concurrent callers share one load. */
function cached<T>(load: () => Promise<T>, ttlMs: number): () => Promise<T> {
  let at = 0;
  let value: Promise<T> | undefined;
  return () => {
    if (!value || Date.now() - at > ttlMs) {
      at = Date.now();
      value = load();
      value.catch(() => {
        value = undefined;
      });
    }
    return value;
  };
}

type Setter = (labels: Record<string, string>, v: number) => void;

export class ServeMetrics {
  readonly registry = new Registry();
  private readonly rowsStaged: Counter;
  private readonly deadLettered: Counter;
  private readonly requests: Counter;
  private readonly retries: Counter;
  private readonly throttled: Counter;
  private readonly passes: Counter;
  private readonly deadLetterAlerts: Counter;
  private readonly jobsRun: Counter;
  private readonly jobDuration: Histogram;
  private readonly scheduled: Counter;

  constructor(inputs: MetricsInputs) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'trueup_' });
    const figures = cached(() => readFigures(inputs.pool), inputs.cacheMs);
    const slots = cached(() => inputs.cdcFigures(), inputs.cacheMs);
    const jobs = cached(() => inputs.jobCounts(), inputs.cacheMs);

    // A gauge whose values come from one shared read; a failed read leaves it empty (and logged).
    const fromDb = <T>(
      name: string,
      help: string,
      labelNames: string[],
      load: () => Promise<T>,
      fill: (value: T, set: Setter) => void,
    ) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [r],
        async collect() {
          this.reset();
          try {
            fill(await load(), (labels, v) => this.set(labels, v));
          } catch (err) {
            inputs.logger.warn({ err, metric: name }, 'could not read a metric');
          }
        },
      });
    const fig = <K extends keyof Figures>(
      name: string,
      help: string,
      labelNames: string[],
      key: K,
      each: (row: Figures[K][number], set: Setter) => void,
    ) =>
      fromDb(name, help, labelNames, figures, (f, set) => {
        for (const row of f[key] as Figures[K][number][]) each(row, set);
      });

    fig(
      'trueup_staging_rows',
      'Records held in staging (tombstones excluded).',
      ['tenant', 'system', 'entity'],
      'stagingRows',
      (x, set) => set({ tenant: x.tenant, system: x.system, entity: x.entity }, x.rows),
    );
    fig(
      'trueup_dead_letters_open',
      'Records that could not be staged and wait for replay or discard.',
      ['tenant', 'system', 'entity'],
      'deadLetters',
      (x, set) => set({ tenant: x.tenant, system: x.system, entity: x.entity }, x.open),
    );
    // A count that only grows, kept by the database: a counter whose value is read, not added to.
    new Counter({
      name: 'trueup_stream_rows_total',
      help: 'Rows staged through a source stream since it started (its checkpoint row).',
      labelNames: ['tenant', 'system', 'stream'],
      registers: [r],
      async collect() {
        this.reset();
        try {
          for (const x of (await figures()).streams)
            this.inc({ tenant: x.tenant, system: x.system, stream: x.stream }, x.rowsTotal);
        } catch (err) {
          inputs.logger.warn({ err, metric: 'trueup_stream_rows_total' }, 'could not read a metric');
        }
      },
    });
    fig(
      'trueup_source_lag_seconds',
      'Seconds since a source stream last checkpointed (a live CDC stream checkpoints on every heartbeat).',
      ['tenant', 'system', 'stream'],
      'streams',
      (x, set) => set({ tenant: x.tenant, system: x.system, stream: x.stream }, x.ageSeconds),
    );
    fig(
      'trueup_source_stream_failed',
      '1 while a source stream is failed or paused (its state in control.checkpoints).',
      ['tenant', 'system', 'stream', 'state'],
      'streams',
      (x, set) => {
        if (x.state !== 'ok')
          set({ tenant: x.tenant, system: x.system, stream: x.stream, state: x.state }, 1);
      },
    );
    fig(
      'trueup_runs',
      'Reconcile runs recorded, by status.',
      ['tenant', 'kind', 'status'],
      'runs',
      (x, set) => set({ tenant: x.tenant, kind: x.kind, status: x.status }, x.count),
    );
    fig(
      'trueup_run_last_duration_seconds',
      'Duration of the latest finished run.',
      ['tenant', 'kind', 'status'],
      'lastRuns',
      (x, set) => {
        if (x.durationSeconds !== null)
          set({ tenant: x.tenant, kind: x.kind, status: x.status }, x.durationSeconds);
      },
    );
    fig(
      'trueup_run_last_success_timestamp_seconds',
      'When the latest successful run finished (Unix time).',
      ['tenant', 'kind'],
      'lastRuns',
      (x, set) => {
        if (x.lastSuccessAt !== null) set({ tenant: x.tenant, kind: x.kind }, x.lastSuccessAt);
      },
    );
    fig(
      'trueup_discrepancies_open',
      'Open discrepancies (not resolved, not accepted).',
      ['tenant', 'entity'],
      'discrepancies',
      (x, set) => set({ tenant: x.tenant, entity: x.entity }, x.open),
    );
    fig(
      'trueup_discrepancies_material_open',
      'Open discrepancies at or above the tenant materiality threshold.',
      ['tenant', 'entity'],
      'discrepancies',
      (x, set) => set({ tenant: x.tenant, entity: x.entity }, x.material),
    );
    fig('trueup_actions', 'Proposed corrections by status.', ['tenant', 'status'], 'actions', (x, set) =>
      set({ tenant: x.tenant, status: x.status }, x.count),
    );
    fromDb(
      'trueup_source_lag_bytes',
      'Source WAL a CDC slot has not confirmed yet (bytes).',
      ['tenant', 'system', 'slot'],
      slots,
      (all, set) => {
        for (const s of all)
          if (s.lagBytes !== null) set({ tenant: s.tenant, system: s.system, slot: s.slot }, s.lagBytes);
      },
    );
    fromDb(
      'trueup_slot_retained_wal_bytes',
      'Source WAL a CDC slot keeps from being recycled (bytes).',
      ['tenant', 'system', 'slot'],
      slots,
      (all, set) => {
        for (const s of all)
          if (s.retainedBytes !== null)
            set({ tenant: s.tenant, system: s.system, slot: s.slot }, s.retainedBytes);
      },
    );
    fromDb(
      'trueup_jobs',
      'Jobs in the shared queue by kind and state (pg-boss).',
      ['kind', 'state'],
      jobs,
      (all, set) => {
        for (const j of all) set({ kind: j.kind, state: j.state }, j.count);
      },
    );
    new Gauge({
      name: 'trueup_serve_source_state',
      help: '1 for the state of each source in this serve process (streaming, polling, passing, waiting: another process runs it, failed).',
      labelNames: ['tenant', 'system', 'state'],
      registers: [r],
      collect() {
        this.reset();
        for (const s of inputs.sources()) this.set({ tenant: s.tenant, system: s.system, state: s.state }, 1);
      },
    });

    const counter = (name: string, help: string, labelNames: string[]) =>
      new Counter({ name, help, labelNames, registers: [r] });
    this.rowsStaged = counter(
      'trueup_rows_staged_total',
      'Rows staged (inserted or updated) by passes of this process.',
      ['tenant', 'system', 'entity'],
    );
    this.deadLettered = counter(
      'trueup_dead_lettered_total',
      'Records dead-lettered by passes of this process.',
      ['tenant', 'system', 'entity'],
    );
    this.requests = counter('trueup_api_requests_total', 'API requests made by passes of this process.', [
      'tenant',
      'system',
    ]);
    this.retries = counter(
      'trueup_api_retries_total',
      'API requests retried (transient failures, 5xx, 429).',
      ['tenant', 'system'],
    );
    this.throttled = counter('trueup_api_throttled_total', 'API responses that were 429 (rate limited).', [
      'tenant',
      'system',
    ]);
    this.passes = counter(
      'trueup_passes_total',
      'Source passes and ended streams of this process, by outcome.',
      ['tenant', 'system', 'status'],
    );
    this.deadLetterAlerts = counter(
      'trueup_dead_letter_alerts_total',
      "Passes and backfills of this process whose dead letters exceeded the tenant's sync.maxDeadLetterShare of the rows they read, per entity.",
      ['tenant', 'system', 'entity'],
    );
    this.jobsRun = counter('trueup_jobs_run_total', 'Jobs this process ran, by outcome.', [
      'kind',
      'outcome',
    ]);
    this.scheduled = counter(
      'trueup_scheduled_total',
      'Scheduled fires: enqueued (new job), joined (a job for it or the tenant was queued already), missed.',
      ['tenant', 'result'],
    );
    this.jobDuration = new Histogram({
      name: 'trueup_job_duration_seconds',
      help: 'Duration of the jobs this process ran (reconcile, backfill, apply).',
      labelNames: ['kind', 'outcome'],
      buckets: [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400],
      registers: [r],
    });
  }

  capture(s: { tenant: string; system: string }, report: CaptureReport): void {
    const key = { tenant: s.tenant, system: s.system };
    this.passes.inc({ ...key, status: report.status });
    if (report.requests) this.requests.inc(key, report.requests);
    if (report.retries) this.retries.inc(key, report.retries);
    if (report.throttled) this.throttled.inc(key, report.throttled);
    for (const st of report.streams) {
      if (st.staged) this.rowsStaged.inc({ ...key, entity: st.entity }, st.staged);
      if (st.deadLettered) this.deadLettered.inc({ ...key, entity: st.entity }, st.deadLettered);
    }
    this.alerted(key, report);
  }

  /** Counts the entities of a pass or backfill over sync.maxDeadLetterShare. */
  alerted(key: { tenant: string; system: string }, report: Pick<CaptureReport, 'deadLetterAlerts'>): void {
    for (const a of report.deadLetterAlerts ?? []) this.deadLetterAlerts.inc({ ...key, entity: a.entity });
  }

  job(
    kind: string,
    outcome: 'succeeded' | 'failed' | 'deferred' | 'handed_back' | 'alerting',
    seconds: number,
  ): void {
    this.jobsRun.inc({ kind, outcome });
    this.jobDuration.observe({ kind, outcome }, seconds);
  }

  fired(tenant: string, result: 'enqueued' | 'joined' | 'missed'): void {
    this.scheduled.inc({ tenant, result });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

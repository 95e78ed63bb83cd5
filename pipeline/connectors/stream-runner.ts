// The one stream runner: what every source shares. It finds the kind in the registry, parses the
// system config, loads each stream's checkpoint, commits each unit with its checkpoint (one
// transaction), reports, pauses the tenant's remaining streams on a daily limit, marks a failing
// stream failed and goes on, and never throws for one system's problems. See docs/capture.md.
import { loadCheckpoint, setStreamState } from '../../staging/checkpoints.js';
import { TrueupError } from '../../staging/model/errors.js';
import type {
  RereadRequest,
  SourcePass,
  StreamOutput,
  StreamPlan,
  SyncOptions,
  SystemHandle,
} from './contract.js';
import { DailyLimitError } from './http/api-errors.js';
import { commitPendingUnit, type PendingUnit } from './pending-unit.js';
import { findConnector } from './registry.js';
import { markRun, type RunMark, tallyRun } from './staged-tally.js';
import {
  configFailure,
  type EntityReport,
  emptyStreamReport,
  finishReport,
  type StreamReport,
  type SyncReport,
} from './sync-report.js';
import { kindOf, openSystem, type SyncDeps } from './system-handle.js';

export type { SyncDeps } from './system-handle.js';

/** What a continuous source (CDC) is told besides the options of a pass. */
export interface CaptureOptions extends SyncOptions {
  once?: boolean;
  resnapshot?: boolean;
  signal?: AbortSignal;
}

/** A hook failure stands for a crash right after a commit: terminal, never retried by a stream. */
export class UnitHookError extends TrueupError {
  override name = 'UnitHookError';
}

/**
 * Captures one system of a tenant: one pass for a pass kind (full, then incremental), the
 * continuous source for a continuous kind (until caught up with `once`, else until stopped).
 * Never throws for that system's own problems: they end up in the report.
 */
export async function syncSystem(
  deps: SyncDeps,
  tenant: string,
  system: string,
  config: unknown,
  opts: CaptureOptions = {},
): Promise<SyncReport> {
  const startedAt = Date.now();
  const key = { tenant, system, kind: kindOf(config) };
  let opened: ReturnType<typeof openSystem>;
  let pass: SourcePass | undefined;
  try {
    opened = openSystem(deps, { tenant, system, config }, opts);
    // The pass opens here (mapping overrides are checked) before anything is read.
    if (opened.connector.capture.mode === 'passes') pass = await opened.connector.capture.open(opened.handle);
  } catch (err) {
    deps.logger.error({ err, tenant, system }, `${key.kind} system config or mapping is invalid`);
    return configFailure(key, startedAt, err);
  }
  const { connector, handle } = opened;
  try {
    const mark = await markRun(handle.staging.pool);
    const report = pass
      ? await runPass(handle, key.kind, pass, startedAt, { checkpoints: true })
      : await runContinuous(connector, handle, opts, startedAt);
    return await withTally(handle, report, mark);
  } catch (err) {
    handle.logger.error({ err }, 'sync failed');
    return {
      ...configFailure(key, startedAt, err),
      error: `${key.kind} sync of ${tenant}/${system} failed: ${message(err)}`,
    };
  }
}

/**
 * Stages a bounded re-read (a window or given ids) of one system, moving no checkpoint. A kind
 * without `reread` gets a failed report saying so.
 */
export async function rereadSystem(
  deps: SyncDeps,
  tenant: string,
  system: string,
  config: unknown,
  request: RereadRequest,
  opts: SyncOptions = {},
): Promise<SyncReport> {
  const startedAt = Date.now();
  const key = { tenant, system, kind: kindOf(config) };
  if (!findConnector(key.kind)?.reread)
    return {
      ...configFailure(key, startedAt, undefined),
      error: `connector kind "${key.kind}" has no bounded re-read (${tenant}/${system})`,
    };
  let opened: ReturnType<typeof openSystem>;
  try {
    opened = openSystem(deps, { tenant, system, config }, opts, { reread: true });
  } catch (err) {
    deps.logger.error({ err, tenant, system }, `${key.kind} system config or mapping is invalid`);
    return configFailure(key, startedAt, err);
  }
  const { connector, handle } = opened;
  try {
    // Opening the re-read reaches the source (a slot, a query plan): its failures are the
    // re-read's, not the config's.
    const pass = await connector.reread!(handle, request);
    const mark = await markRun(handle.staging.pool);
    return await withTally(
      handle,
      await runPass(handle, key.kind, pass, startedAt, { checkpoints: false }),
      mark,
    );
  } catch (err) {
    handle.logger.error({ err }, 're-read failed');
    return {
      ...configFailure(key, startedAt, err),
      error: `${key.kind} re-read of ${tenant}/${system} failed: ${message(err)}`,
    };
  }
}

async function runPass(
  sys: SystemHandle<unknown>,
  kind: string,
  pass: SourcePass,
  startedAt: number,
  how: { checkpoints: boolean },
): Promise<SyncReport> {
  const { tenant, system, logger } = sys;
  const streams: StreamReport[] = [];
  let paused: { message: string; resumeAt: Date | null } | null = null;
  let error: string | undefined;
  const pause = async (err: TrueupError, plans: readonly StreamPlan[]) => {
    const resumeAt = err instanceof DailyLimitError ? err.resumeAt : null;
    paused = { message: err.message, resumeAt };
    const detail = `daily API limit reached: ${err.message}${resumeAt ? `; resumes after ${resumeAt.toISOString()}` : ''}`;
    if (how.checkpoints)
      for (const p of plans)
        await setStreamState(sys.staging.db, { tenant, system, stream: p.name }, 'paused', detail);
    logger.warn({ err, resumeAt }, `${kind} daily limit reached; tenant paused`);
  };
  try {
    try {
      await pass.begin?.();
    } catch (err) {
      if (!isPaused(err)) throw err;
      await pause(err, pass.streams);
    }
    for (const [i, plan] of pass.streams.entries()) {
      if (paused) break;
      const key = { tenant, system, stream: plan.name };
      const saved = how.checkpoints
        ? ((await loadCheckpoint(sys.staging.pool, key)) ?? undefined)
        : undefined;
      const start = await plan.start(saved);
      const report = emptyStreamReport(plan.name, plan.entity, start.mode);
      streams.push(report);
      try {
        await start.read(streamOutput(sys, plan.name, report, how));
        report.status = 'completed';
      } catch (err) {
        if (isPaused(err)) {
          report.status = 'paused';
          report.detail = err.message;
          await pause(err, pass.streams.slice(i));
          break;
        }
        report.status = 'failed';
        report.detail = message(err);
        logger.error({ err, stream: plan.name }, 'stream failed; its checkpoint stays where it was');
        if (how.checkpoints)
          await setStreamState(sys.staging.db, key, 'failed', report.detail).catch((e: unknown) =>
            logger.error({ err: e }, 'could not record the failed stream state'),
          );
      }
    }
  } catch (err) {
    // Outside any one stream (loading a checkpoint, the pass's first call): the system fails.
    logger.error({ err }, 'sync failed');
    error = `${kind} sync of ${tenant}/${system} failed: ${message(err)}`;
  } finally {
    await pass.close?.();
  }
  const stats = pass.stats?.() ?? { requests: 0, retries: 0, throttled: 0 };
  const report = finishReport(
    { tenant, system, kind, streams, ...stats, ...(error ? { error } : {}) },
    startedAt,
    paused,
  );
  logger.info(
    { status: report.status, requests: report.requests, retries: report.retries },
    'sync pass finished',
  );
  return report;
}

/**
 * The report with what the run staged and could not, per entity (staged-tally.ts). A tally that
 * cannot be read leaves the report without it (logged): the data is staged either way.
 */
async function withTally(sys: SystemHandle<unknown>, report: SyncReport, mark: RunMark): Promise<SyncReport> {
  try {
    const streamEntities = [...new Set(report.streams.map((s) => s.entity))];
    const tallies = await tallyRun(sys.staging.pool, sys, mark, streamEntities);
    const entities = tallies.map((t): EntityReport => {
      const streams = report.streams.filter((s) => s.entity === t.entity);
      const read = streams.length
        ? streams.reduce((n, s) => n + s.received, 0)
        : t.staged + t.tombstones + t.deadLetters;
      return { ...t, read: Math.max(read, t.deadLetters) };
    });
    return { ...report, entities };
  } catch (err) {
    sys.logger.error({ err }, 'could not read what the sync staged (the report has no per-entity counts)');
    return report;
  }
}

/** Where a stream's read puts its units: staged with the checkpoint, counted, then the test hook. */
function streamOutput(
  sys: SystemHandle<unknown>,
  stream: string,
  report: StreamReport,
  how: { checkpoints: boolean },
): StreamOutput {
  return {
    stream,
    logger: sys.logger,
    received: (n = 1) => {
      report.received += n;
    },
    note: (detail) => {
      report.detail = detail;
    },
    commit: async (position: unknown, unit: PendingUnit, location: string) => {
      const rows = unitRecords(unit);
      const counts = await commitPendingUnit(
        sys.staging.pool,
        { tenant: sys.tenant, system: sys.system, location },
        unit,
        how.checkpoints ? [{ stream, position }] : [],
      );
      report.inserted += counts.inserted;
      report.updated += counts.updated;
      report.deleted += counts.deleted;
      report.ignored += counts.ignored;
      report.deadLettered += counts.deadLettered;
      try {
        await sys.options.onUnitStaged?.({ stream, rows, position });
      } catch (err) {
        throw new UnitHookError(`stopped after a staged unit: ${message(err)}`, {
          subject: { tenant: sys.tenant, system: sys.system },
          cause: err,
        });
      }
    },
  };
}

/** Changes and dead letters the unit holds, prepared or not. */
function unitRecords(unit: PendingUnit): number {
  let n = unit.deadLetters.length;
  for (const changes of unit.batches.values()) n += changes.length;
  for (const b of unit.prepared ?? []) n += b.received;
  return n;
}

async function runContinuous(
  connector: ReturnType<typeof openSystem>['connector'],
  sys: SystemHandle<unknown>,
  opts: CaptureOptions,
  startedAt: number,
): Promise<SyncReport> {
  if (connector.capture.mode !== 'continuous') throw new TrueupError(`${connector.kind} is not continuous`);
  const r = await connector.capture.run(sys, {
    once: opts.once ?? false,
    resnapshot: opts.resnapshot ?? false,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const status = r.outcome === 'failed' ? 'failed' : r.outcome === 'stopped' ? 'stopped' : 'completed';
  return {
    tenant: sys.tenant,
    system: sys.system,
    kind: connector.kind,
    status,
    streams: [],
    requests: 0,
    retries: 0,
    throttled: 0,
    durationMs: Date.now() - startedAt,
    ...(r.error ? { error: r.error.message } : {}),
    detail: r.detail ?? '',
  };
}

function isPaused(err: unknown): err is TrueupError {
  return err instanceof TrueupError && err.kind === 'paused';
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

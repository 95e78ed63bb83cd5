// Extraction of one SObject into staging through Bulk API 2.0 queryAll jobs, as a resumable
// walk over windows of SystemModstamp:
//
//   position {since}                       everything with SystemModstamp < since is staged
//     │ new window [since, to = now − lag)  create queryAll job; save {since, window{to, jobId}}
//     ▼
//   position {since, window{to, jobId, locator, skip}}
//     │ poll job → JobComplete; read chunk `locator`, skip `skip` rows already staged,
//     │ stage every `batchSize` rows with the position after them (same transaction)
//     ▼ last chunk (Sforce-Locator "null") staged
//   position {since: to}
//
// A crash or a dropped connection resumes from the saved (locator, skip): nothing is lost and
// nothing is staged twice (and a replayed row would be ignored by the version guard anyway).
// A job that disappeared (expired results) is recreated for the same window. queryAll returns
// deleted records with IsDeleted=true; they become tombstones. version = SystemModstamp in µs.

import type { NewDeadLetter } from '../../../staging/dead-letters.js';
import { classifyPgError } from '../../../staging/errors.js';
import type { Change } from '../../../staging/model/change.js';
import { type ApiClient, ApiError, DailyLimitError, RetryBudget } from '../http/api-client.js';
import { csvCellsByHeader } from '../map-record.js';
import {
  addChange,
  commitUnit,
  newPendingUnit,
  type PendingUnit,
  type StreamReport,
  type SyncDeps,
} from '../sync-support.js';
import { type BulkQueryClient, windowQuery } from './bulk-query.js';
import type { SalesforceSystemConfig } from './config.js';
import {
  compileRowMapper,
  type ObjectMapping,
  RecordMappingError,
  type RowMapper,
  selectFields,
} from './mapping.js';
import type { SalesforcePolicy } from './policy.js';

export interface SalesforcePosition {
  /** Everything with SystemModstamp < since (ISO) is staged; null: nothing yet. */
  since: string | null;
  /** The window being read, and how far: rows of chunk `locator` before `skip` are staged. */
  window?: { to: string; jobId: string; locator: string | null; skip: number };
}

export interface ExtractObjectContext {
  deps: SyncDeps;
  api: ApiClient;
  bulk: BulkQueryClient;
  tenant: string;
  system: string;
  config: SalesforceSystemConfig;
  mapping: ObjectMapping;
  report: StreamReport;
  now: () => number;
  /** Knows Salesforce's clock (Date headers): window ends never lie in Salesforce's future. */
  policy?: SalesforcePolicy;
  /** Retries of one result chunk in all (the client's and the re-reads of a cut body). */
  maxStreamRetries: number;
  /** Waits between re-reads of a chunk (the client limits' backoff bounds). */
  backoff: { minMs: number; maxMs: number };
  onUnitStaged?: (info: { stream: string; rows: number; position: unknown }) => void | Promise<void>;
}

/** A chunk ended before Sforce-NumberOfRecords rows arrived (a connection cut without an error). */
class TruncatedChunkError extends Error {
  override name = 'TruncatedChunkError';
  readonly kind = 'transient' as const;
}

export async function extractObject(ctx: ExtractObjectContext, start: SalesforcePosition): Promise<void> {
  const { mapping, config, bulk } = ctx;
  const stream = mapping.sobject;
  let pos: SalesforcePosition = { ...start };
  if (!pos.window) {
    const now = ctx.policy ? ctx.policy.safeNow(ctx.now()) : ctx.now();
    const to = new Date(Math.floor(now / 1000) * 1000 - config.bulk.lagSeconds * 1000).toISOString();
    if (pos.since && Date.parse(to) <= Date.parse(pos.since)) return;
    const job = await bulk.createJob(windowQuery(selectFields(mapping), stream, pos.since, to), 'queryAll');
    // Remember the job before reading it, so a restart reads the same snapshot instead of a new one.
    pos = { since: pos.since, window: { to, jobId: job.id, locator: null, skip: 0 } };
    await commit(ctx, pos, newPendingUnit());
  }
  let completedJob: string | undefined;
  // One retry budget per result chunk (job × locator), shared by the client's retries of the GET
  // and the re-reads below of a body cut mid-stream: at most maxStreamRetries + 1 reads of a
  // chunk in all, however the failures fall (nested retries would multiply them).
  let budget = new RetryBudget(ctx.maxStreamRetries);
  let budgetFor = '';
  for (;;) {
    const w = pos.window!;
    const chunkKey = `${w.jobId}\0${w.locator ?? ''}`;
    if (chunkKey !== budgetFor) {
      budget = new RetryBudget(ctx.maxStreamRetries);
      budgetFor = chunkKey;
    }
    try {
      if (w.jobId !== completedJob) {
        await waitForJob(ctx, pos);
        completedJob = pos.window!.jobId;
      }
      await readChunk(ctx, pos, budget);
      if (!pos.window) return;
    } catch (err) {
      // Retry what the client does not: a body cut mid-stream, a truncated chunk. The resume
      // point is the last committed position; rows read after it were not staged and are re-read.
      if (!isTransient(err) || !budget.take()) throw err;
      const attempt = ctx.maxStreamRetries - budget.remaining;
      ctx.deps.logger.warn(
        { err, stream, jobId: w.jobId, locator: w.locator, skip: w.skip, attempt },
        'result stream interrupted; resuming from the last staged position',
      );
      const { minMs, maxMs } = ctx.backoff;
      await new Promise((r) =>
        setTimeout(r, Math.min(maxMs, minMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2)),
      );
    }
  }
}

function isTransient(err: unknown): boolean {
  if (err instanceof DailyLimitError) return false;
  const kind = (err as { kind?: unknown }).kind;
  if (kind !== undefined) return kind === 'transient';
  // A Postgres error (five-character SQLSTATE) is classified by staging; anything else without
  // a kind comes from the body stream (socket reset, "terminated", timeout) and is transient.
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return classifyPgError(err) === 'transient';
  return true;
}

/** Waits for the window's job; a job that is gone or failed is recreated for the same window. */
async function waitForJob(ctx: ExtractObjectContext, pos: SalesforcePosition): Promise<void> {
  const w = pos.window!;
  try {
    await ctx.bulk.waitForCompletion(w.jobId);
  } catch (err) {
    const gone = err instanceof ApiError && err.status === 404;
    const failed =
      (err as { name?: string }).name === 'BulkJobError' && (err as { kind?: string }).kind === 'terminal';
    if (!gone && !failed) throw err;
    ctx.deps.logger.warn(
      { err, jobId: w.jobId },
      'bulk job gone or failed; recreating it for the same window',
    );
    const job = await ctx.bulk.createJob(
      windowQuery(selectFields(ctx.mapping), ctx.mapping.sobject, pos.since, w.to),
      'queryAll',
    );
    pos.window = { to: w.to, jobId: job.id, locator: null, skip: 0 };
    await commit(ctx, pos, newPendingUnit());
    await ctx.bulk.waitForCompletion(job.id);
  }
}

/**
 * Reads one result chunk from the position, staging as it goes. `pos` is updated in place after
 * every commit, so it always equals the committed checkpoint.
 */
async function readChunk(
  ctx: ExtractObjectContext,
  pos: SalesforcePosition,
  budget: RetryBudget,
): Promise<void> {
  const { mapping, config } = ctx;
  const w = pos.window!;
  const chunk = await ctx.bulk.results(w.jobId, w.locator, config.bulk.maxRecords, budget);
  const location = (row: number) =>
    `salesforce ${mapping.sobject} job ${w.jobId} chunk ${w.locator ?? 'first'} row ${row}`;
  let mapper: RowMapper | undefined;
  let header: string[] | undefined;
  let seen = 0;
  // One commit may run while the next batch is parsed (Postgres and this thread work at the same
  // time; at most two batches in memory). Commits stay in order, and `pos` follows each one.
  let inflight: Promise<void> | undefined;
  let commitError: unknown;
  const stage = async (at: SalesforcePosition, batch: PendingUnit) => {
    if (inflight) await inflight;
    if (commitError) throw commitError;
    inflight = commit(ctx, at, batch).then(
      () => {
        pos.since = at.since;
        if (at.window) pos.window = at.window;
        else delete pos.window;
      },
      (err: unknown) => {
        commitError = err;
      },
    );
  };
  let unit = newPendingUnit();
  try {
    for await (const rows of chunk.rows) {
      for (const cells of rows) {
        if (!header) {
          header = cells;
          mapper = compileRowMapper(mapping, header);
          continue;
        }
        seen++;
        if (seen <= w.skip) continue;
        let change: Change | undefined;
        try {
          change = mapper!(cells);
        } catch (err) {
          if (!(err instanceof RecordMappingError)) throw err;
          unit.deadLetters.push(deadLetter(ctx, cells, header, err.message, location(seen)));
          unit.rows++;
        }
        if (change) addChange(unit, mapping.entity, change);
        if (unit.rows >= config.bulk.batchSize) {
          await stage({ since: pos.since, window: { ...w, skip: seen } }, unit);
          unit = newPendingUnit();
        }
      }
    }
    if (chunk.numberOfRecords !== null && seen < chunk.numberOfRecords)
      throw new TruncatedChunkError(
        `${mapping.sobject} job ${w.jobId}: chunk ended after ${seen} of ${chunk.numberOfRecords} rows`,
      );
    await stage(
      chunk.next ? { since: pos.since, window: { ...w, locator: chunk.next, skip: 0 } } : { since: w.to },
      unit,
    );
  } finally {
    // Whatever happened while reading, let the commit in flight settle so `pos` is exact.
    if (inflight) await inflight;
  }
  if (commitError) throw commitError;
}

function deadLetter(
  ctx: ExtractObjectContext,
  cells: readonly string[],
  header: readonly string[],
  message: string,
  location: string,
): NewDeadLetter {
  const idAt = header.indexOf('Id');
  const record = csvCellsByHeader(header, cells);
  return {
    tenant: ctx.tenant,
    system: ctx.system,
    entity: ctx.mapping.entity,
    sourceId: (idAt >= 0 && cells[idAt]) || null,
    record: { raw: record },
    errorKind: 'mapping',
    errorMessage: `${ctx.mapping.sobject}: ${message}`,
    location,
  };
}

async function commit(ctx: ExtractObjectContext, position: SalesforcePosition, unit: PendingUnit) {
  const rows = unit.rows;
  ctx.report.received += rows;
  await commitUnit(ctx.deps.staging.pool, {
    tenant: ctx.tenant,
    system: ctx.system,
    stream: ctx.mapping.sobject,
    position,
    unit,
    report: ctx.report,
    location: `salesforce ${ctx.mapping.sobject}`,
  });
  try {
    await ctx.onUnitStaged?.({ stream: ctx.mapping.sobject, rows, position });
  } catch (err) {
    // The hook stands for a crash right after the commit: never retried here.
    throw Object.assign(new Error(`stopped after a staged unit: ${(err as Error).message}`), {
      kind: 'terminal',
    });
  }
}

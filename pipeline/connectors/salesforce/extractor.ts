// Extraction of one SObject into staging through Bulk API 2.0 queryAll jobs, as a resumable
// walk over windows of SystemModstamp:
//
//   position {since}                       everything with SystemModstamp < since is staged
//     │ new window [since, to = now − lag)  create queryAll job; save {since, window{to, jobId}}
//     ▼
//   position {since, window{to, jobId, locator, skip}}
//     │ poll job → JobComplete; read chunk `locator`, skip `skip` rows already staged,
//     │ stage every `batchSize` rows (smaller units first) with the position after them
//     │ (same transaction)
//     ▼ last chunk (Sforce-Locator "null") staged
//   position {since: to}
//
// A crash or a dropped connection resumes from the saved (locator, skip): nothing is lost and
// nothing is staged twice (and a replayed row would be ignored by the version guard anyway).
// A job that disappeared (expired results) is recreated for the same window. queryAll returns
// deleted records with IsDeleted=true; they become tombstones. version = SystemModstamp in µs.
//
// Three things run at once: fast-csv parses on a parse thread (parseCsvChunks), this thread maps
// rows into units, and Postgres commits earlier units (commit-pipeline.ts: in order, one at a time,
// also across chunks), so the slowest of the three sets the pace. Memory stays bounded: the
// parse thread reads ahead by at most a few groups of rows, and at most three units exist.

import type { NewDeadLetter } from '../../../staging/dead-letters.js';
import { classifyPgError } from '../../../staging/errors.js';
import type { Change } from '../../../staging/model/change.js';
import { type ApiClient, ApiError, DailyLimitError, RetryBudget } from '../http/api-client.js';
import { csvCellsByHeader } from '../map-record.js';
import { addChange, newPendingUnit, type StreamReport, type SyncDeps } from '../sync-support.js';
import { type BulkQueryClient, windowQuery } from './bulk-query.js';
import { CommitPipeline } from './commit-pipeline.js';
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
  /**
   * The window being read, and how far: rows of chunk `locator` before `skip` are staged. `rows`:
   * rows in the chunks before `locator` (absent in checkpoints written before it existed);
   * `unchecked`: one of those chunks came without Sforce-NumberOfRecords, so only the job's
   * numberRecordsProcessed can tell whether it was cut short.
   */
  window?: {
    to: string;
    jobId: string;
    locator: string | null;
    skip: number;
    rows?: number;
    unchecked?: boolean;
  };
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
  /** The window's chunks hold fewer rows than the job reported: re-read it from its first chunk. */
  restartWindow = false;
}

export async function extractObject(ctx: ExtractObjectContext, start: SalesforcePosition): Promise<void> {
  const { mapping, config, bulk } = ctx;
  const stream = mapping.sobject;
  // `pos` is the committed checkpoint (updated as each unit commits); `read` is where reading
  // goes on: the position after the last unit handed to `commits` (at most two units ahead).
  const pos: SalesforcePosition = { ...start };
  const commits = new CommitPipeline(ctx, pos);
  if (!pos.window) {
    const now = ctx.policy ? ctx.policy.safeNow(ctx.now()) : ctx.now();
    const to = new Date(Math.floor(now / 1000) * 1000 - config.bulk.lagSeconds * 1000).toISOString();
    if (pos.since && Date.parse(to) <= Date.parse(pos.since)) return;
    const job = await bulk.createJob(windowQuery(selectFields(mapping), stream, pos.since, to), 'queryAll');
    // Remember the job before reading it, so a restart reads the same snapshot instead of a new one.
    await commits.add(
      { since: pos.since, window: { to, jobId: job.id, locator: null, skip: 0, rows: 0 } },
      newPendingUnit(),
    );
    await commits.settle();
  }
  let read: SalesforcePosition = { ...pos };
  let completedJob: string | undefined;
  // Rows the completed job reported (numberRecordsProcessed), and re-reads of the whole window.
  let expected: number | undefined;
  let windowRestarts = 0;
  // One retry budget per result chunk (job × locator), shared by the client's retries of the GET
  // and the re-reads below of a body cut mid-stream: at most maxStreamRetries + 1 reads of a
  // chunk in all, however the failures fall (nested retries would multiply them).
  let budget = new RetryBudget(ctx.maxStreamRetries);
  let budgetFor = '';
  for (;;) {
    const w = read.window!;
    const chunkKey = `${w.jobId}\0${w.locator ?? ''}`;
    if (chunkKey !== budgetFor) {
      budget = new RetryBudget(ctx.maxStreamRetries);
      budgetFor = chunkKey;
    }
    try {
      if (w.jobId !== completedJob) {
        await commits.settle();
        ({ read, expected } = await waitForJob(ctx, commits, read));
        completedJob = read.window!.jobId;
      }
      // The last unit of a chunk commits while the next chunk is requested and parsed.
      read = await readChunk(ctx, read, budget, commits, expected);
      if (!read.window) {
        await commits.settle();
        return;
      }
    } catch (readErr) {
      // Retry what the client does not: a body cut mid-stream, a truncated chunk. The resume
      // point is the last committed position; rows read after it were not staged and are re-read.
      // A failed commit outranks the read error it caused.
      const err =
        (await commits.settle().then(
          () => undefined,
          (e: unknown) => e,
        )) ?? readErr;
      read = { ...pos };
      if (err instanceof TruncatedChunkError && err.restartWindow) {
        // Some chunk without a count header was cut short; which one is unknown. Replayed rows
        // are ignored by the version guard, so the window is read again from its first chunk.
        if (++windowRestarts > ctx.maxStreamRetries) throw Object.assign(err, { kind: 'terminal' });
        ctx.deps.logger.warn(
          { err, stream, jobId: read.window?.jobId },
          're-reading the window from its first chunk',
        );
        await commits.add(
          {
            since: read.since,
            window: { ...read.window!, locator: null, skip: 0, rows: 0, unchecked: false },
          },
          newPendingUnit(),
        );
        await commits.settle();
        read = { ...pos };
        continue;
      }
      if (!isTransient(err) || !budget.take()) throw err;
      const attempt = ctx.maxStreamRetries - budget.remaining;
      ctx.deps.logger.warn(
        {
          err,
          stream,
          jobId: read.window?.jobId,
          locator: read.window?.locator,
          skip: read.window?.skip,
          attempt,
        },
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

/**
 * Waits for the window's job; a job that is gone or failed is recreated for the same window
 * (committed before it is read). Returns the position to read from. Nothing may be in flight.
 */
async function waitForJob(
  ctx: ExtractObjectContext,
  commits: CommitPipeline,
  read: SalesforcePosition,
): Promise<{ read: SalesforcePosition; expected: number | undefined }> {
  const w = read.window!;
  try {
    const job = await ctx.bulk.waitForCompletion(w.jobId);
    return { read, expected: job.numberRecordsProcessed };
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
      windowQuery(selectFields(ctx.mapping), ctx.mapping.sobject, read.since, w.to),
      'queryAll',
    );
    const fresh: SalesforcePosition = {
      since: read.since,
      window: { to: w.to, jobId: job.id, locator: null, skip: 0, rows: 0 },
    };
    await commits.add(fresh, newPendingUnit());
    await commits.settle();
    const done = await ctx.bulk.waitForCompletion(job.id);
    return { read: fresh, expected: done.numberRecordsProcessed };
  }
}

/**
 * Reads one result chunk from `read`, handing a unit to `commits` every batchSize rows with the
 * position after it. Returns the position after the chunk (its last unit may still be committing).
 */
async function readChunk(
  ctx: ExtractObjectContext,
  read: SalesforcePosition,
  budget: RetryBudget,
  commits: CommitPipeline,
  expected: number | undefined,
): Promise<SalesforcePosition> {
  const { mapping, config } = ctx;
  const w = read.window!;
  const chunk = await ctx.bulk.results(w.jobId, w.locator, config.bulk.maxRecords, budget);
  const location = (row: number) =>
    `salesforce ${mapping.sobject} job ${w.jobId} chunk ${w.locator ?? 'first'} row ${row}`;
  let mapper: RowMapper | undefined;
  let header: string[] | undefined;
  let seen = 0;
  let unit = newPendingUnit();
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
      if (unit.rows >= commits.unitRows) {
        await commits.add({ since: read.since, window: { ...w, skip: seen } }, unit);
        unit = newPendingUnit();
      }
    }
  }
  if (chunk.numberOfRecords !== null && seen < chunk.numberOfRecords)
    throw new TruncatedChunkError(
      `${mapping.sobject} job ${w.jobId}: chunk ended after ${seen} of ${chunk.numberOfRecords} rows`,
    );
  // Without the count header a chunk cut cleanly on a line boundary looks complete: the window's
  // total is checked against the job's numberRecordsProcessed after its last chunk instead.
  const rows = w.rows === undefined ? undefined : w.rows + seen;
  const unchecked = w.unchecked || chunk.numberOfRecords === null;
  if (!chunk.next && unchecked && rows !== undefined && expected !== undefined && rows < expected)
    throw Object.assign(
      new TruncatedChunkError(
        `${mapping.sobject} job ${w.jobId}: its result chunks held ${rows} of ${expected} rows (a chunk without Sforce-NumberOfRecords was cut short)`,
      ),
      { restartWindow: true },
    );
  const after: SalesforcePosition = chunk.next
    ? {
        since: read.since,
        window: {
          ...w,
          locator: chunk.next,
          skip: 0,
          ...(rows === undefined ? {} : { rows }),
          ...(unchecked ? { unchecked: true } : {}),
        },
      }
    : { since: w.to };
  await commits.add(after, unit);
  return after;
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

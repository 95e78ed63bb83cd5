// Extraction of one SObject into staging through Bulk API 2.0 queryAll jobs, as a resumable walk
// over windows of SystemModstamp: a window's job is saved before it is read, every unit is staged
// with the (job, locator, skip) after it, and the last chunk moves `since` to the window's end. A
// crash resumes from the saved position; a job that disappeared is recreated for the same window;
// a chunk cut short is read again. Deleted records (IsDeleted) become tombstones; version =
// SystemModstamp in µs. Parsing (a parse thread), mapping (here) and commits (commit-pipeline.ts)
// run at once. The diagram: docs/capture.md, "Salesforce: the window walk".
// queryAll sees a deleted record only while it is in the recycle bin (15 days, WIRE.md): a
// stream whose `since` is older than that stops with RecycleBinExpiredError (terminal, naming the
// fix: a full re-read) instead of silently missing the deletes.

import type { NewDeadLetter } from '../../../staging/control/dead-letters.js';
import { classifyPgError, StagingError } from '../../../staging/errors.js';
import { type BackoffBounds, backoffDelay, sleep } from '../../../staging/model/backoff.js';
import type { Change } from '../../../staging/model/change.js';
import { TrueupError } from '../../../staging/model/errors.js';
import type { StreamOutput } from '../contract.js';
import { type ApiClient, ApiError, RetryBudget } from '../http/api-client.js';
import { csvCellsByHeader, stampProblem } from '../map-record.js';
import { addChange, newPendingUnit } from '../pending-unit.js';
import { BulkJobError, type BulkQueryClient, windowQuery } from './bulk-query.js';
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
  /** Where units go: staged with the position after them (the stream runner). */
  out: StreamOutput<SalesforcePosition>;
  api: ApiClient;
  bulk: BulkQueryClient;
  tenant: string;
  system: string;
  config: SalesforceSystemConfig;
  mapping: ObjectMapping;
  now: () => number;
  /** Knows Salesforce's clock (Date headers): window ends never lie in Salesforce's future. */
  policy?: SalesforcePolicy;
  /** Retries of one result chunk in all (the client's and the re-reads of a cut body). */
  maxStreamRetries: number;
  /** Waits between re-reads of a chunk (the client limits' backoff bounds). */
  backoff: BackoffBounds;
  /** How long deleted records stay visible to queryAll (default RECYCLE_BIN_MS, 15 days). */
  recycleBinMs?: number;
}

/** Salesforce keeps deleted records in the recycle bin for 15 days (earlier when it is full). */
export const RECYCLE_BIN_MS = 15 * 86_400_000;

/** The stream was idle longer than the recycle bin keeps deletes: only a full re-read is sound. */
export class RecycleBinExpiredError extends TrueupError {
  override name = 'RecycleBinExpiredError';
}

function checkRecycleBin(ctx: ExtractObjectContext, since: string): void {
  const idleMs = ctx.now() - Date.parse(since);
  const keptMs = ctx.recycleBinMs ?? RECYCLE_BIN_MS;
  if (!(idleMs > keptMs)) return;
  const days = (ms: number) => Math.floor(ms / 86_400_000);
  const { tenant, system } = ctx;
  throw new RecycleBinExpiredError(
    `tenant ${tenant}, system ${system}: ${ctx.mapping.sobject} was last read up to ${since}, ${days(idleMs)} days ago, ` +
      `but Salesforce keeps deleted records in the recycle bin (where queryAll sees them) for ${days(keptMs)} days: ` +
      `deletes since then may be lost. Re-read it in full: trueup sync --tenant ${tenant} --system ${system} --full --once`,
    { subject: { tenant, system, entity: ctx.mapping.entity } },
  );
}

/** A chunk ended before Sforce-NumberOfRecords rows arrived (a connection cut without an error). */
class TruncatedChunkError extends TrueupError {
  override name = 'TruncatedChunkError';
  constructor(
    message: string,
    /** The window's chunks hold fewer rows than the job reported: re-read it from its first chunk. */
    readonly restartWindow = false,
  ) {
    super(message, { kind: 'transient' });
  }
}

/** A window re-read more often than maxStreamRetries allows. */
class WindowRestartsError extends TrueupError {
  override name = 'WindowRestartsError';
}

export async function extractObject(ctx: ExtractObjectContext, start: SalesforcePosition): Promise<void> {
  const { mapping, config, bulk } = ctx;
  const stream = mapping.sobject;
  // `pos` is the committed checkpoint (updated as each unit commits); `read` is where reading
  // goes on: the position after the last unit handed to `commits` (at most two units ahead).
  const pos: SalesforcePosition = { ...start };
  const commits = new CommitPipeline<SalesforcePosition>({
    out: ctx.out,
    scope: { tenant: ctx.tenant, system: ctx.system, location: `salesforce ${stream}` },
    batchSize: config.bulk.batchSize,
    // `pos` follows each commit, so it always equals the committed checkpoint.
    committed: (at) => {
      pos.since = at.since;
      if (at.window) pos.window = at.window;
      else delete pos.window;
    },
  });
  if (pos.since) checkRecycleBin(ctx, pos.since);
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
        if (++windowRestarts > ctx.maxStreamRetries)
          throw new WindowRestartsError(err.message, {
            subject: { tenant: ctx.tenant, system: ctx.system },
            cause: err,
          });
        ctx.out.logger.warn(
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
      ctx.out.logger.warn(
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
      await sleep(backoffDelay(attempt, ctx.backoff, Math.random));
    }
  }
}

/** Whether a failed chunk read is read again (the extraction's and the re-read's one rule). */
export function isTransient(err: unknown): boolean {
  // A daily limit is `paused`, a hook's simulated crash `terminal`: neither is retried here.
  if (err instanceof TrueupError) return err.isTransient();
  if (err instanceof StagingError) return err.kind === 'transient';
  // A Postgres error (five-character SQLSTATE) is classified by staging; anything else without
  // a kind comes from the body stream (socket reset, "terminated", timeout) and is transient.
  if (err instanceof Error && /^[0-9A-Z]{5}$/.test(String((err as NodeJS.ErrnoException).code)))
    return classifyPgError(err) === 'transient';
  return true;
}

/**
 * Waits for the window's job; a job that is gone or failed is recreated for the same window
 * (committed before it is read). Returns the position to read from. Nothing may be in flight.
 */
async function waitForJob(
  ctx: ExtractObjectContext,
  commits: CommitPipeline<SalesforcePosition>,
  read: SalesforcePosition,
): Promise<{ read: SalesforcePosition; expected: number | undefined }> {
  const w = read.window!;
  try {
    const job = await ctx.bulk.waitForCompletion(w.jobId);
    return { read, expected: job.numberRecordsProcessed };
  } catch (err) {
    const gone = err instanceof ApiError && err.status === 404;
    const failed = err instanceof BulkJobError && err.kind === 'terminal';
    if (!gone && !failed) throw err;
    ctx.out.logger.warn(
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
  commits: CommitPipeline<SalesforcePosition>,
  expected: number | undefined,
): Promise<SalesforcePosition> {
  const { mapping, config } = ctx;
  const w = read.window!;
  const chunk = await ctx.bulk.results(w.jobId, w.locator, config.bulk.maxRecords, budget);
  const location = (row: number) =>
    `salesforce ${mapping.sobject} job ${w.jobId} chunk ${w.locator ?? 'first'} row ${row}`;
  const now = ctx.policy ? ctx.policy.safeNow(ctx.now()) : ctx.now();
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
      // A stamp past Salesforce's time would win over every later change (the version guard).
      const problem = change && stampProblem(Number(change.version / 1000n), now, 'SystemModstamp');
      if (change && problem) {
        unit.deadLetters.push(
          deadLetter(ctx, cells, header, `${change.sourceId}: ${problem}`, location(seen)),
        );
        unit.rows++;
      } else if (change) addChange(unit, mapping.entity, change);
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
    throw new TruncatedChunkError(
      `${mapping.sobject} job ${w.jobId}: its result chunks held ${rows} of ${expected} rows (a chunk without Sforce-NumberOfRecords was cut short)`,
      true,
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

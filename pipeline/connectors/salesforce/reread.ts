import { backoffDelay, DEFAULT_BACKOFF, sleep } from '../../../staging/model/backoff.js';
import type { Change } from '../../../staging/model/change.js';
import { TrueupError } from '../../../staging/model/errors.js';
import {
  type RereadRequest,
  type SourcePass,
  type StreamOutput,
  type StreamPlan,
  type SystemHandle,
  windowOrIds,
} from '../contract.js';
import { ApiClient, mergeLimits, RetryBudget } from '../http/api-client.js';
import { csvCellsByHeader } from '../map-record.js';
import { addChange, newPendingUnit, type PendingUnit } from '../pending-unit.js';
import { BulkQueryClient, windowQuery } from './bulk-query.js';
import type { SalesforceSystemConfig } from './config.js';
import { isTransient } from './extractor.js';
import {
  compileRowMapper,
  type ObjectMapping,
  RecordMappingError,
  type RowMapper,
  selectFields,
} from './mapping.js';
import { salesforceMappings, salesforcePolicy } from './streams.js';

/** SOQL statements are at most 100,000 characters (WIRE.md "SOQL"). */
export const SOQL_MAX_LENGTH = 100_000;
/** A Salesforce record id: 15 characters (case-sensitive) or 18 (case-safe). */
const RECORD_ID = /^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$/;

export class SalesforceRereadError extends TrueupError {
  override name = 'SalesforceRereadError';
}

export function rereadSalesforce(
  sys: SystemHandle<SalesforceSystemConfig>,
  request: RereadRequest,
): SourcePass {
  const slice = windowOrIds('salesforce', request);
  const { config, options: opts, tenant, system, logger } = sys;
  const subject = { tenant, system, entity: request.entity };
  if ('ids' in slice)
    for (const id of slice.ids)
      if (!RECORD_ID.test(id))
        throw new SalesforceRereadError(
          `tenant ${tenant}, system ${system}: ${JSON.stringify(id)} is not a Salesforce record id (15 or 18 letters and digits)`,
          { subject },
        );
  const mappings = salesforceMappings(sys).filter((m) => m.entity === request.entity);
  const limits = mergeLimits(config.limits, opts.limits);
  const api = new ApiClient({
    baseUrl: config.baseUrl,
    policy: salesforcePolicy(sys),
    limits,
    tenant,
    system,
    logger,
  });
  const bulk = new BulkQueryClient(api, config.apiVersion, {
    minMs: config.bulk.pollMinMs,
    maxMs: config.bulk.pollMaxMs,
    timeoutMs: config.bulk.jobTimeoutMs,
  });
  const backoff = {
    minMs: limits.minBackoffMs ?? DEFAULT_BACKOFF.minMs,
    maxMs: limits.maxBackoffMs ?? DEFAULT_BACKOFF.maxMs,
  };
  const stream = (mapping: ObjectMapping): StreamPlan => ({
    name: mapping.sobject,
    entity: mapping.entity,
    start: () => ({
      mode: 'full',
      read: async (out) => {
        const fields = selectFields(mapping);
        const queries =
          'ids' in slice
            ? idQueries(fields, mapping.sobject, slice.ids)
            : [windowQuery(fields, mapping.sobject, slice.window.from, slice.window.to)];
        const job = { sys, bulk, mapping, out, maxRetries: limits.maxRetries, backoff };
        for (const q of queries) await readJob(job, q);
      },
    }),
  });
  return { streams: mappings.map(stream), stats: () => ({ ...api.stats }), close: () => api.close() };
}

/** `SELECT … WHERE Id IN (…)` statements over all ids, each within SOQL_MAX_LENGTH. */
export function idQueries(fields: readonly string[], sobject: string, ids: readonly string[]): string[] {
  const head = `SELECT ${fields.join(', ')} FROM ${sobject} WHERE Id IN (`;
  const out: string[] = [];
  let list: string[] = [];
  let length = head.length + 1;
  for (const id of new Set(ids)) {
    const item = `'${id}'`;
    if (list.length && length + 2 + item.length > SOQL_MAX_LENGTH) {
      out.push(`${head}${list.join(', ')})`);
      list = [];
      length = head.length + 1;
    }
    length += (list.length ? 2 : 0) + item.length;
    list.push(item);
  }
  if (list.length) out.push(`${head}${list.join(', ')})`);
  return out;
}

interface JobContext {
  sys: SystemHandle<SalesforceSystemConfig>;
  bulk: BulkQueryClient;
  mapping: ObjectMapping;
  out: StreamOutput;
  maxRetries: number;
  backoff: { minMs: number; maxMs: number };
}

/** One queryAll job, its chunks read in turn; a chunk cut short is read again after its committed rows. */
async function readJob(ctx: JobContext, query: string): Promise<void> {
  const created = await ctx.bulk.createJob(query, 'queryAll');
  await ctx.bulk.waitForCompletion(created.id);
  let locator: string | null = null;
  for (;;) {
    // One budget per chunk, shared by the client's retries and the re-reads of a cut body.
    const budget = new RetryBudget(ctx.maxRetries);
    const at = { skip: 0 };
    let next: string | null;
    for (;;) {
      try {
        next = await readChunk(ctx, created.id, locator, at, budget);
        break;
      } catch (err) {
        if (!isTransient(err) || !budget.take()) throw err;
        ctx.out.logger.warn(
          { err, jobId: created.id, locator, skip: at.skip },
          're-reading a cut result chunk',
        );
        await sleep(backoffDelay(ctx.maxRetries - budget.remaining, ctx.backoff, Math.random));
      }
    }
    if (next === null) return;
    locator = next;
  }
}

async function readChunk(
  ctx: JobContext,
  jobId: string,
  locator: string | null,
  at: { skip: number },
  budget: RetryBudget,
): Promise<string | null> {
  const { config } = ctx.sys;
  const chunk = await ctx.bulk.results(jobId, locator, config.bulk.maxRecords, budget);
  const location = `salesforce ${ctx.mapping.sobject} re-read job ${jobId} chunk ${locator ?? 'first'}`;
  let header: string[] | undefined;
  let mapper: RowMapper | undefined;
  let seen = 0;
  let unit = newPendingUnit();
  const commit = async () => {
    ctx.out.received(unit.rows);
    await ctx.out.commit({ jobId, locator, skip: seen }, unit, location);
    at.skip = seen;
    unit = newPendingUnit();
  };
  for await (const rows of chunk.rows)
    for (const cells of rows) {
      if (!header) {
        header = cells;
        mapper = compileRowMapper(ctx.mapping, header);
        continue;
      }
      if (++seen <= at.skip) continue;
      addRow(ctx, unit, mapper!, header, cells, `${location} row ${seen}`);
      if (unit.rows >= config.bulk.batchSize) await commit();
    }
  if (chunk.numberOfRecords !== null && seen < chunk.numberOfRecords)
    throw new TrueupError(
      `${ctx.mapping.sobject} job ${jobId}: chunk ended after ${seen} of ${chunk.numberOfRecords} rows`,
      {
        kind: 'transient',
      },
    );
  await commit();
  return chunk.next;
}

function addRow(
  ctx: JobContext,
  unit: PendingUnit,
  mapper: RowMapper,
  header: readonly string[],
  cells: readonly string[],
  location: string,
): void {
  let change: Change;
  try {
    change = mapper(cells);
  } catch (err) {
    if (!(err instanceof RecordMappingError)) throw err;
    const idAt = header.indexOf('Id');
    unit.deadLetters.push({
      tenant: ctx.sys.tenant,
      system: ctx.sys.system,
      entity: ctx.mapping.entity,
      sourceId: (idAt >= 0 && cells[idAt]) || null,
      record: { raw: csvCellsByHeader(header, cells) },
      errorKind: 'mapping',
      errorMessage: `${ctx.mapping.sobject}: ${err.message}`,
      location,
    });
    unit.rows++;
    return;
  }
  addChange(unit, ctx.mapping.entity, change);
}

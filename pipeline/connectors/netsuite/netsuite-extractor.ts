// Extracts NetSuite record streams into staging through SuiteQL, page group by page group, each
// committed with its stream checkpoint in one transaction.
//
//   full:        WHERE id > :lastId ORDER BY id                       {phase:'full', lastId, watermark}
//   incremental: WHERE (lastmodifieddate > :since                      {phase:'incremental', since, lastId}
//                  OR (lastmodifieddate = :since AND id > :lastId)) ORDER BY lastmodifieddate, id
//   deletes:     the same keyset over deletedrecord (deleteddate, recordid) → tombstones
//
// Paged by keyset, not by offset: every page is a new query starting after the last row read
// (offset 0, limit pageSize). With offsets, a record deleted (or modified, which moves it to the
// end) in the part already read shifts every later row one place down and the row at the next
// page boundary was never read, while the checkpoint moved past it. A keyset page cannot skip a
// row, no query comes near the per-query cap (100,000 results), and a restart resumes from the
// committed keyset without loss or repeats.
// SuiteQL over REST has no bind parameters: the only values put into a query are checked
// integers and stamps matching one fixed pattern.
import type { ApiClient } from '../http/api-client.js';
import { mapRecord } from '../map-record.js';
import {
  addChange,
  commitStreamUnit,
  msToVersion,
  newPendingUnit,
  type PendingUnit,
  type StreamReport,
  type SyncDeps,
} from '../sync-support.js';
import type { NetsuiteStream, NetsuiteSystemConfig } from './config.js';
import { type NetsuiteStreamSpec, streamOfDeletedType } from './netsuite-mapping.js';

export type NetsuitePosition =
  | { phase: 'full'; lastId: number; watermark: string }
  | { phase: 'incremental'; since: string; lastId: number };

export interface DeletedPosition {
  since: string;
  lastId: number;
}

type SuiteqlRow = Record<string, string | number | boolean | null>;
interface SuiteqlPage {
  items: SuiteqlRow[];
  hasMore: boolean;
  count: number;
  offset: number;
  totalResults: number;
}

export interface NetsuiteContext {
  deps: SyncDeps;
  client: ApiClient;
  tenant: string;
  system: string;
  config: NetsuiteSystemConfig;
  /** The effective spec (mapping, columns) of every configured stream. */
  specs: ReadonlyMap<NetsuiteStream, NetsuiteStreamSpec>;
  report: StreamReport;
  onUnitStaged?: (info: { stream: string; rows: number; position: unknown }) => void | Promise<void>;
}

const STAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const STAMP_FMT = 'YYYY-MM-DD HH24:MI:SS';

/** Epoch ms → NetSuite stamp text (whole seconds, UTC). */
export function toStamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}
function stampMs(s: unknown): number | null {
  if (typeof s !== 'string' || !STAMP.test(s)) return null;
  const ms = Date.parse(`${s.replace(' ', 'T')}Z`);
  return Number.isNaN(ms) ? null : ms;
}
function ts(s: string): string {
  if (!STAMP.test(s)) throw new Error(`checkpoint stamp ${JSON.stringify(s)} is not YYYY-MM-DD HH:MI:SS`);
  return `TO_TIMESTAMP('${s}', '${STAMP_FMT}')`;
}
function int(n: number): string {
  if (!Number.isSafeInteger(n)) throw new Error(`checkpoint id ${n} is not an integer`);
  return String(n);
}

export function streamQuery(spec: NetsuiteStreamSpec, pos: NetsuitePosition): string {
  const cols = [
    'id',
    ...spec.columns,
    ...spec.dateColumns.map((d) => `TO_CHAR(${d}, 'YYYY-MM-DD') AS ${d}`),
    `TO_CHAR(lastmodifieddate, '${STAMP_FMT}') AS lastmodified`,
  ];
  const type = spec.type ? ` AND type = '${spec.type}'` : '';
  if (pos.phase === 'full')
    return `SELECT ${cols.join(', ')} FROM ${spec.table} WHERE id > ${int(pos.lastId)}${type} ORDER BY id`;
  return `SELECT ${cols.join(', ')} FROM ${spec.table} WHERE (lastmodifieddate > ${ts(pos.since)} OR (lastmodifieddate = ${ts(pos.since)} AND id > ${int(pos.lastId)}))${type} ORDER BY lastmodifieddate, id`;
}

export function deletedQuery(pos: DeletedPosition): string {
  return `SELECT recordid, recordtype, TO_CHAR(deleteddate, '${STAMP_FMT}') AS deleted FROM deletedrecord WHERE (deleteddate > ${ts(pos.since)} OR (deleteddate = ${ts(pos.since)} AND recordid > ${int(pos.lastId)})) ORDER BY deleteddate, recordid`;
}

/**
 * Runs keyset pages from `start` until no row is left: each page is `query(pos)` from its first
 * row, `pos` being the keyset after the last row read. `onRow` handles one row and returns the
 * keyset position after it; positions are committed with the rows (every stageBatchRows and at
 * the end, where `finish` turns the last position into the final checkpoint).
 */
async function drain<P>(
  ctx: NetsuiteContext,
  stream: string,
  start: P,
  query: (p: P) => string,
  onRow: (row: SuiteqlRow, unit: PendingUnit, pos: P) => P,
  finish: (p: P) => unknown,
): Promise<void> {
  const { client, config } = ctx;
  const unit = newPendingUnit();
  // limit + offset may not pass the per-query cap; with offset 0 the limit alone must stay under it.
  const limit = Math.min(config.pageSize, config.queryResultCap);
  let pos = start;
  for (;;) {
    const page = await client.json<SuiteqlPage>('POST', 'services/rest/query/v1/suiteql', {
      query: { limit, offset: 0 },
      headers: { prefer: 'transient' },
      body: { q: query(pos) },
    });
    const before = JSON.stringify(pos);
    for (const row of page.items) pos = onRow(row, unit, pos);
    if (!page.hasMore) {
      await commit(ctx, stream, finish(pos), unit);
      return;
    }
    // A full page of rows whose keyset is unreadable would be asked for again and again.
    if (JSON.stringify(pos) === before)
      throw new Error(
        `netsuite ${stream}: a page of ${page.items.length} rows without a readable id or stamp; cannot page past ${before}`,
      );
    if (unit.rows >= config.stageBatchRows) await commit(ctx, stream, pos, unit);
  }
}

export async function extractStream(ctx: NetsuiteContext, stream: NetsuiteStream, start: NetsuitePosition) {
  const spec = ctx.specs.get(stream)!;
  const ownRef = ctx.config.role === 'erp' ? 'erp_ref' : 'crm_ref';
  await drain<NetsuitePosition>(
    ctx,
    stream,
    start,
    (p) => streamQuery(spec, p),
    (row, unit, pos) => {
      ctx.report.received++;
      const id = Number(row.id);
      const stamp = stampMs(row.lastmodified);
      if (!Number.isSafeInteger(id) || stamp === null) {
        deadLetter(ctx, unit, spec, stream, row, `row without integer id or readable lastmodifieddate`);
        return Number.isSafeInteger(id) ? advance(pos, id, row.lastmodified) : pos;
      }
      try {
        const fields = mapRecord(spec.entity, spec.mapping, (c) => row[c]);
        fields[ownRef] = String(id);
        addChange(unit, spec.entity, {
          sourceId: String(id),
          version: msToVersion(stamp),
          op: 'upsert',
          fields,
          raw: row,
          sourceUpdatedAt: new Date(stamp).toISOString(),
          ...(spec.mappingVersion ? { mappingVersion: spec.mappingVersion } : {}),
        });
      } catch (err) {
        deadLetter(ctx, unit, spec, stream, row, (err as Error).message);
      }
      return advance(pos, id, row.lastmodified);
    },
    (p) => (p.phase === 'full' ? { phase: 'incremental', since: p.watermark, lastId: 0 } : p),
  );
}

function advance(pos: NetsuitePosition, id: number, stamp: unknown): NetsuitePosition {
  if (pos.phase === 'full') return { ...pos, lastId: id };
  return typeof stamp === 'string' && STAMP.test(stamp)
    ? { phase: 'incremental', since: stamp, lastId: id }
    : pos;
}

export async function extractDeletes(
  ctx: NetsuiteContext,
  streams: readonly NetsuiteStream[],
  start: DeletedPosition,
): Promise<void> {
  await drain<DeletedPosition>(
    ctx,
    'deletedrecord',
    start,
    deletedQuery,
    (row, unit, pos) => {
      const id = Number(row.recordid);
      const at = stampMs(row.deleted);
      if (!Number.isSafeInteger(id) || at === null) return pos;
      const next = { since: row.deleted as string, lastId: id };
      const stream = streamOfDeletedType(String(row.recordtype ?? ''), streams);
      if (!stream) return next;
      ctx.report.received++;
      addChange(unit, ctx.specs.get(stream)!.entity, {
        sourceId: String(id),
        version: msToVersion(at),
        op: 'delete',
        raw: row,
        sourceUpdatedAt: new Date(at).toISOString(),
      });
      return next;
    },
    (p) => p,
  );
}

function deadLetter(
  ctx: NetsuiteContext,
  unit: PendingUnit,
  spec: NetsuiteStreamSpec,
  stream: string,
  row: SuiteqlRow,
  reason: string,
): void {
  const id = row.id == null ? null : String(row.id);
  unit.deadLetters.push({
    tenant: ctx.tenant,
    system: ctx.system,
    entity: spec.entity,
    sourceId: id,
    record: { raw: row },
    errorKind: 'mapping',
    errorMessage: `netsuite ${stream} ${id ?? '(no id)'}: ${reason}`,
    location: `netsuite suiteql ${spec.table}`,
  });
}

function commit(ctx: NetsuiteContext, stream: string, position: unknown, unit: PendingUnit): Promise<void> {
  return commitStreamUnit(ctx, stream, position, unit, `netsuite ${stream}`);
}

// Extracts NetSuite record streams into staging through SuiteQL, page group by page group, each
// committed with its stream checkpoint in one transaction: full loads by id, incremental reads
// on (lastmodifieddate, id), deletes from deletedrecord — all paged by keyset, never by offset,
// so a page cannot skip a row and no query nears the per-query cap. SuiteQL over REST has no bind
// parameters: the only values put into a query are checked integers and stamps of one pattern.
// Stamps are the account's wall-clock text (netsuite-account.ts): a position written here says so
// (`wall: true`); one without it holds a UTC watermark and is turned onto the account's clock
// first. Values arrive as strings, null columns left out; currency references become ISO codes.
// The queries and why keysets: docs/capture.md, "NetSuite".
import type { Change } from '../../../staging/model/change.js';
import { TrueupError } from '../../../staging/model/errors.js';
import type { StreamOutput } from '../contract.js';
import type { ApiClient } from '../http/api-client.js';
import { mapRecord, msToVersion, ownValue, stampProblem } from '../map-record.js';
import { addChange, newPendingUnit, type PendingUnit } from '../pending-unit.js';
import type { NetsuiteStream, NetsuiteSystemConfig } from './config.js';
import { type AccountFacts, accountFacts, onAccountClock, STAMP, stampInstant } from './netsuite-account.js';
import { type NetsuiteStreamSpec, streamOfDeletedType } from './netsuite-mapping.js';
import { type SuiteqlRow, suiteqlPage } from './suiteql-page.js';

/**
 * `wall`: the stamps are the account's wall-clock text (else UTC text, turned onto it first). A
 * full load's watermark stays UTC text (the run's clock) and is turned when the load hands over.
 */
export type NetsuitePosition =
  | { phase: 'full'; lastId: number; watermark: string; wall?: true }
  | { phase: 'incremental'; since: string; lastId: number; wall?: true };

export interface DeletedPosition {
  since: string;
  lastId: number;
  wall?: true;
}

export interface NetsuiteContext {
  /** Where units go: staged with the position after them (the stream runner). */
  out: StreamOutput;
  client: ApiClient;
  tenant: string;
  system: string;
  config: NetsuiteSystemConfig;
  /** The effective spec (mapping, columns) of every configured stream. */
  specs: ReadonlyMap<NetsuiteStream, NetsuiteStreamSpec>;
  /** The clock the run's watermark was taken on (default Date.now). */
  now?: () => number;
}

const STAMP_FMT = 'YYYY-MM-DD HH24:MI:SS';

/** Epoch ms → NetSuite stamp text (whole seconds, UTC). */
export function toStamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}
/** A start position on the account's clock: a UTC watermark (no `wall`, lastId 0) is turned onto it. */
function onClock<P extends NetsuitePosition | DeletedPosition>(pos: P, facts: AccountFacts): P {
  // A full load walks ids; its watermark stays the run's UTC text until the load hands over.
  if ((pos as { wall?: true }).wall || ('phase' in pos && pos.phase === 'full')) return pos;
  // A keyset from a row (lastId > 0) already holds the account's text.
  const since =
    pos.lastId === 0 ? onAccountClock((pos as DeletedPosition).since, facts) : (pos as DeletedPosition).since;
  return { ...pos, since, wall: true };
}
function ts(s: string): string {
  if (!STAMP.test(s))
    throw new TrueupError(`checkpoint stamp ${JSON.stringify(s)} is not YYYY-MM-DD HH:MI:SS`);
  return `TO_TIMESTAMP('${s}', '${STAMP_FMT}')`;
}
function int(n: number): string {
  if (!Number.isSafeInteger(n)) throw new TrueupError(`checkpoint id ${n} is not an integer`);
  return String(n);
}

/** The SuiteQL columns a stream reads: id, its columns, display values, dates and the stamp. */
export function streamColumns(spec: NetsuiteStreamSpec): string[] {
  return [
    'id',
    ...spec.columns,
    ...spec.displayColumns.map((c) => `BUILTIN.DF(${c}) AS ${c}`),
    ...spec.dateColumns.map((d) => `TO_CHAR(${d}, 'YYYY-MM-DD') AS ${d}`),
    `TO_CHAR(lastmodifieddate, '${STAMP_FMT}') AS lastmodified`,
  ];
}

export function streamQuery(spec: NetsuiteStreamSpec, pos: NetsuitePosition): string {
  const cols = streamColumns(spec);
  const type = spec.type ? ` AND type = '${spec.type}'` : '';
  if (pos.phase === 'full')
    return `SELECT ${cols.join(', ')} FROM ${spec.table} WHERE id > ${int(pos.lastId)}${type} ORDER BY id`;
  return `SELECT ${cols.join(', ')} FROM ${spec.table} WHERE (lastmodifieddate > ${ts(pos.since)} OR (lastmodifieddate = ${ts(pos.since)} AND id > ${int(pos.lastId)}))${type} ORDER BY lastmodifieddate, id`;
}

export function deletedQuery(pos: DeletedPosition): string {
  return `SELECT recordid, type, TO_CHAR(deleteddate, '${STAMP_FMT}') AS deleted FROM deletedrecord WHERE (deleteddate > ${ts(pos.since)} OR (deleteddate = ${ts(pos.since)} AND recordid > ${int(pos.lastId)})) ORDER BY deleteddate, recordid`;
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
  /** True once a row stamped in the future was met: rows after it (stamp order) are too; stop there. */
  reachedFuture: () => boolean = () => false,
): Promise<void> {
  const { client, config } = ctx;
  const unit = newPendingUnit();
  // limit + offset may not pass the per-query cap; with offset 0 the limit alone must stay under it.
  const limit = Math.min(config.pageSize, config.queryResultCap);
  let pos = start;
  for (;;) {
    const page = await client.json('POST', 'services/rest/query/v1/suiteql', {
      query: { limit, offset: 0 },
      headers: { prefer: 'transient' },
      body: { q: query(pos) },
      schema: suiteqlPage,
      about: `stream ${stream}`,
    });
    const before = JSON.stringify(pos);
    for (const row of page.items) pos = onRow(row, unit, pos);
    if (!page.hasMore || reachedFuture()) {
      await commit(ctx, stream, finish(pos), unit);
      return;
    }
    // A full page of rows whose keyset is unreadable would be asked for again and again.
    if (JSON.stringify(pos) === before)
      throw new TrueupError(
        `netsuite ${stream}: a page of ${page.items.length} rows without a readable id or stamp; cannot page past ${before}`,
      );
    if (unit.rows >= config.stageBatchRows) await commit(ctx, stream, pos, unit);
  }
}

export async function extractStream(ctx: NetsuiteContext, stream: NetsuiteStream, start: NetsuitePosition) {
  const spec = ctx.specs.get(stream)!;
  const ownRef = ctx.config.role === 'erp' ? 'erp_ref' : 'crm_ref';
  const facts = await accountFacts(ctx.client, ctx.now);
  const currency = new Set(spec.currencyColumns);
  const now = serverNow(ctx, facts);
  let future = false;
  await drain<NetsuitePosition>(
    ctx,
    stream,
    onClock(start, facts),
    (p) => streamQuery(spec, p),
    (row, unit, pos) => {
      ctx.out.received();
      const id = Number(row.id);
      const stamp = stampInstant(row.lastmodified, facts);
      if (!Number.isSafeInteger(id) || stamp === null) {
        deadLetter(ctx, unit, spec, stream, row, `row without integer id or readable lastmodifieddate`);
        return Number.isSafeInteger(id) ? advance(pos, id, row.lastmodified) : pos;
      }
      const problem = stampProblem(stamp, now, 'lastmodifieddate', row.lastmodified);
      if (problem !== null) {
        deadLetter(ctx, unit, spec, stream, row, problem);
        // A full load walks ids and goes on; an incremental read walks stamps and stops here.
        if (pos.phase === 'full') return advance(pos, id, row.lastmodified);
        future ||= stamp > now;
        return pos;
      }
      try {
        addChange(unit, spec.entity, rowChange(spec, row, id, stamp, { facts, currency, ownRef }));
      } catch (err) {
        deadLetter(ctx, unit, spec, stream, row, (err as Error).message);
      }
      return advance(pos, id, row.lastmodified);
    },
    (p) =>
      p.phase === 'full'
        ? {
            phase: 'incremental',
            since: p.wall ? p.watermark : onAccountClock(p.watermark, facts),
            lastId: 0,
            wall: true,
          }
        : p,
    () => future,
  );
}

/** The account's time as an instant: the local clock plus what SYSDATE said beyond the user's zone. */
/**
 * One SuiteQL row of a record stream as a staged upsert: the mapping (currency ids read as ISO
 * codes), the row's own id as the system's link field, its stamp as the version. Throws for a row
 * the mapping cannot take (the caller dead-letters it). The extraction and the re-read share it.
 */
export function rowChange(
  spec: NetsuiteStreamSpec,
  row: SuiteqlRow,
  id: number,
  stamp: number,
  how: { facts: AccountFacts; currency: ReadonlySet<string>; ownRef: string },
): Change {
  const fields = mapRecord(spec.entity, spec.mapping, (c) => {
    const v = ownValue(row, c);
    return how.currency.has(c) && v != null ? (how.facts.currencies.get(String(v)) ?? v) : v;
  });
  fields[how.ownRef] = String(id);
  return {
    sourceId: String(id),
    version: msToVersion(stamp),
    op: 'upsert',
    fields,
    raw: row,
    sourceUpdatedAt: new Date(stamp).toISOString(),
    ...(spec.mappingVersion ? { mappingVersion: spec.mappingVersion } : {}),
  };
}

function serverNow(ctx: NetsuiteContext, facts: AccountFacts): number {
  return (ctx.now ?? Date.now)() + facts.clockOffsetMs - facts.zoneOffsetMs;
}

function advance(pos: NetsuitePosition, id: number, stamp: unknown): NetsuitePosition {
  if (pos.phase === 'full') return { ...pos, lastId: id };
  return typeof stamp === 'string' && STAMP.test(stamp)
    ? { phase: 'incremental', since: stamp, lastId: id, wall: true }
    : pos;
}

export async function extractDeletes(
  ctx: NetsuiteContext,
  streams: readonly NetsuiteStream[],
  start: DeletedPosition,
): Promise<void> {
  const facts = await accountFacts(ctx.client, ctx.now);
  const now = serverNow(ctx, facts);
  let future = false;
  await drain<DeletedPosition>(
    ctx,
    'deletedrecord',
    onClock(start, facts),
    deletedQuery,
    (row, unit, pos) => {
      const id = Number(row.recordid);
      const at = stampInstant(row.deleted, facts);
      if (!Number.isSafeInteger(id) || at === null) return pos;
      const next: DeletedPosition = { since: row.deleted as string, lastId: id, wall: true };
      const stream = streamOfDeletedType(String(row.type ?? ''), streams);
      const problem = stampProblem(at, now, 'deleteddate', row.deleted);
      if (problem !== null) {
        // Rows come in deleteddate order: this one and those after it wait for a later run.
        if (stream) deadLetter(ctx, unit, ctx.specs.get(stream)!, 'deletedrecord', row, problem);
        future ||= at > now;
        return pos;
      }
      if (!stream) return next;
      ctx.out.received();
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
    () => future,
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
  return ctx.out.commit(position, unit, `netsuite ${stream}`);
}

// The bounded re-read of a `postgres` system (backfill, issue 18): the mapped table of one entity
// read again in keyset chunks (by primary key), all rows or the given ids, while the CDC stream of
// the same table may be running. Safe by the same rule as the initial snapshot (snapshot.ts): the
// chunks are read in a snapshot exported by a TEMPORARY logical slot, and every row is staged with
// version = that slot's consistent point. A change the stream stages is either in the snapshot
// (its commit LSN is at or below the point: the re-read row is as new) or after it (a higher
// version), so the staging version guard never lets the re-read regress a row. Moves no
// checkpoint and leaves the CDC slot alone; the temporary slot goes with its connection.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { NewDeadLetter } from '../../../staging/control/dead-letters.js';
import { quoteIdent, quoteLiteral } from '../../../staging/identifiers.js';
import type { Change } from '../../../staging/model/change.js';
import { TrueupError } from '../../../staging/model/errors.js';
import type { RereadRequest, SourcePass, StreamOutput, StreamPlan, SystemHandle } from '../contract.js';
import { addChange, newPendingUnit, type PendingUnit } from '../pending-unit.js';
import type { PostgresSystemConfig } from './config.js';
import { lsnToBigInt } from './lsn.js';
import { TableMapper } from './mapping.js';
import { connectReplication, connectSource } from './source-admin.js';

/** Rows per keyset chunk (and per staging unit); ids per `IN` lookup. */
const CHUNK_ROWS = 2_000;
const TIMESTAMP_OID = 1114;

export class PostgresRereadError extends TrueupError {
  override name = 'PostgresRereadError';
}

export function rereadPostgres(sys: SystemHandle<PostgresSystemConfig>, request: RereadRequest): SourcePass {
  const tables = sys.config.tables.filter((t) => t.entity === request.entity);
  const streams = tables.map((t): StreamPlan => {
    const mapper = new TableMapper(t);
    return {
      name: mapper.label,
      entity: mapper.entity,
      start: () => ({ mode: 'full', read: (out) => readTable(sys, mapper, request, out) }),
    };
  });
  return { streams };
}

interface Snapshot {
  client: pg.Client;
  version: bigint;
  lsn: string;
}

async function readTable(
  sys: SystemHandle<PostgresSystemConfig>,
  mapper: TableMapper,
  request: RereadRequest,
  out: StreamOutput,
): Promise<void> {
  const url = sys.config.connection;
  const repl = await connectReplication(url);
  let client: pg.Client | undefined;
  try {
    // The exported snapshot lives while the replication connection runs no other command.
    const slot = `trueup_reread_${randomBytes(6).toString('hex')}`;
    const res = await repl.query(
      `CREATE_REPLICATION_SLOT ${quoteIdent(slot)} TEMPORARY LOGICAL pgoutput (SNAPSHOT 'export')`,
    );
    const created = res.rows[0] as { consistent_point: string; snapshot_name: string };
    client = await connectSource(url, 'trueup-reread');
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    await client.query(`SET TRANSACTION SNAPSHOT '${created.snapshot_name.replaceAll("'", "''")}'`);
    const snap = { client, version: lsnToBigInt(created.consistent_point), lsn: created.consistent_point };
    out.logger.info(
      { table: mapper.label, lsn: snap.lsn },
      're-reading in a snapshot consistent with the stream',
    );
    const keyTypes = await columnTypes(client, mapper, mapper.mapping.key);
    if ('ids' in request) await readIds(sys, mapper, snap, keyTypes, request.ids, out);
    else await readWindow(sys, mapper, snap, keyTypes, request.window, out);
    await client.query('COMMIT');
  } finally {
    await client?.end().catch(() => {});
    await repl.end().catch(() => {});
  }
}

/** SQL type text of the given columns of the mapped table, in that order. */
async function columnTypes(
  client: pg.Client,
  mapper: TableMapper,
  cols: readonly string[],
): Promise<string[]> {
  const res = await client.query<{ attname: string; type: string }>(
    `SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute
      WHERE attrelid = $1::regclass AND attname = ANY($2::text[]) AND attnum > 0 AND NOT attisdropped`,
    [mapper.qualified, cols],
  );
  const types = new Map(res.rows.map((r) => [r.attname, r.type]));
  return cols.map((c) => {
    const t = types.get(c);
    if (!t) throw new PostgresRereadError(`table ${mapper.label} has no key column "${c}"`);
    return t;
  });
}

/** Every row whose mapped updatedAt lies in [from, to), in key order, a chunk at a time. */
async function readWindow(
  sys: SystemHandle<PostgresSystemConfig>,
  mapper: TableMapper,
  snap: Snapshot,
  keyTypes: readonly string[],
  window: { from: string; to: string },
  out: StreamOutput,
): Promise<void> {
  const updated = mapper.mapping.updatedAt as { column: string } | { sql: string } | undefined;
  if (!updated)
    throw new PostgresRereadError(
      `tenant ${sys.tenant}, system ${sys.system}: table ${mapper.label} maps no updatedAt, so it has no modification window; re-read it by ids`,
      { subject: { tenant: sys.tenant, system: sys.system, entity: mapper.entity } },
    );
  const expr = 'column' in updated ? `t.${quoteIdent(updated.column)}` : `(${updated.sql})`;
  // A timestamp without time zone is wall-clock time in the table's zone, as the mapping reads it.
  const probe = await snap.client.query({
    text: `SELECT ${expr} AS v FROM ${mapper.qualified} AS t LIMIT 0`,
    queryMode: 'extended',
  } as pg.QueryConfig);
  const naive = probe.fields[0]?.dataTypeID === TIMESTAMP_OID;
  const tz = quoteLiteral(mapper.mapping.timezone ?? 'UTC');
  const stamp = naive ? `timezone(${tz}, ${expr})` : `(${expr})::timestamptz`;
  const keys = mapper.mapping.key.map((k) => `t.${quoteIdent(k)}`);
  let last: string[] | undefined;
  for (;;) {
    const after = last
      ? ` AND (${keys.join(', ')}) > (${keyTypes.map((ty, i) => `$${3 + i}::${ty}`).join(', ')})`
      : '';
    const rows = await selectRows(
      snap,
      mapper,
      `${stamp} >= $1::timestamptz AND ${stamp} < $2::timestamptz${after}`,
      `ORDER BY ${keys.join(', ')} LIMIT ${CHUNK_ROWS}`,
      [window.from, window.to, ...(last ?? [])],
    );
    if (!rows.length) return;
    const unit = newPendingUnit();
    for (const r of rows) addRow(sys, mapper, snap, unit, r);
    out.received(rows.length);
    const end = rows.at(-1)!;
    last = mapper.mapping.key.map((k) => end[k] as string);
    await out.commit({ lsn: snap.lsn, after: last }, unit, location(mapper, snap));
    if (rows.length < CHUNK_ROWS) return;
  }
}

/**
 * The rows with the given source ids, CHUNK_ROWS ids per lookup. An id the snapshot does not hold
 * (deleted, or out of the mapping's filter) that is live in staging is tombstoned at the snapshot's
 * version: a later insert streamed meanwhile carries a higher one and stays.
 */
async function readIds(
  sys: SystemHandle<PostgresSystemConfig>,
  mapper: TableMapper,
  snap: Snapshot,
  keyTypes: readonly string[],
  ids: readonly string[],
  out: StreamOutput,
): Promise<void> {
  const key = mapper.mapping.key;
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += CHUNK_ROWS) {
    const chunk = unique.slice(i, i + CHUNK_ROWS);
    const parts = chunk.map((id) => keyParts(sys, mapper, id));
    const cols = key.map((_k, n) => parts.map((p) => p[n]!));
    const list = key.map((_k, n) => `u.k${n}::${keyTypes[n]}`).join(', ');
    const rows = await selectRows(
      snap,
      mapper,
      `(${key.map((k) => `t.${quoteIdent(k)}`).join(', ')}) IN (SELECT ${list} FROM unnest(${key
        .map((_k, n) => `$${n + 1}::text[]`)
        .join(', ')}) AS u(${key.map((_k, n) => `k${n}`).join(', ')}))`,
      '',
      cols,
    );
    const unit = newPendingUnit();
    const found = new Set<string>();
    for (const r of rows) {
      const id = addRow(sys, mapper, snap, unit, r);
      if (id !== null) found.add(id);
    }
    out.received(rows.length);
    const missing = chunk.filter((id) => !found.has(id));
    if (missing.length) {
      const live = await sys.staging.pool.query<{ source_id: string }>(
        `SELECT source_id FROM staging.${quoteIdent(mapper.entity)}
          WHERE tenant_id = $1 AND system = $2 AND source_id = ANY($3::text[]) AND deleted_at IS NULL`,
        [sys.tenant, sys.system, missing],
      );
      for (const r of live.rows)
        addChange(unit, mapper.entity, { sourceId: r.source_id, version: snap.version, op: 'delete' });
      if (missing.length > live.rows.length)
        out.note(`${missing.length - live.rows.length} id(s) neither in the source nor staged`);
    }
    await out.commit({ lsn: snap.lsn, ids: i + chunk.length }, unit, location(mapper, snap));
  }
}

/** The key column values of a staged source id (a JSON array of texts for a composite key). */
function keyParts(sys: SystemHandle<PostgresSystemConfig>, mapper: TableMapper, id: string): string[] {
  const n = mapper.mapping.key.length;
  if (n === 1) return [id];
  let parts: unknown;
  try {
    parts = JSON.parse(id);
  } catch {
    parts = undefined;
  }
  if (!Array.isArray(parts) || parts.length !== n || parts.some((p) => typeof p !== 'string'))
    throw new PostgresRereadError(
      `tenant ${sys.tenant}, system ${sys.system}: id ${JSON.stringify(id)} is not a key of ${mapper.label} (a JSON array of ${n} texts, as staged)`,
      { subject: { tenant: sys.tenant, system: sys.system, entity: mapper.entity } },
    );
  return parts as string[];
}

/** The snapshot query of the table (its filter and expressions), narrowed by `where`. */
async function selectRows(
  snap: Snapshot,
  mapper: TableMapper,
  where: string,
  tail: string,
  params: readonly unknown[],
): Promise<Record<string, string | boolean | null>[]> {
  // The outer query sees the table as `t` again (columns and evaluated aliases), so the key and
  // updatedAt expressions read the same names as in the mapping; the planner flattens it, and
  // the keyset uses the key's index.
  const res = await snap.client.query({
    text: `SELECT t.* FROM (${mapper.snapshotSql()}) AS t WHERE ${where} ${tail}`,
    values: [...params],
    queryMode: 'extended',
  } as pg.QueryConfig);
  return res.rows as Record<string, string | boolean | null>[];
}

/** Maps one row into the unit (a row without its key, or that fails to map, is skipped or dead-lettered). */
function addRow(
  sys: SystemHandle<PostgresSystemConfig>,
  mapper: TableMapper,
  snap: Snapshot,
  unit: PendingUnit,
  row: Record<string, string | boolean | null>,
): string | null {
  // Keyless rows were dead-lettered by the read that first met them.
  const id = mapper.sourceIdOrNull(row as Record<string, string | null>);
  if (id === null) return null;
  let change: Change;
  try {
    change = mapper.fromSnapshotRow(row, snap.version);
  } catch (err) {
    unit.deadLetters.push(deadLetter(sys, mapper, snap, id, row, err));
    unit.rows++;
    return id;
  }
  addChange(unit, mapper.entity, change);
  return id;
}

function deadLetter(
  sys: SystemHandle<PostgresSystemConfig>,
  mapper: TableMapper,
  snap: Snapshot,
  id: string,
  row: Record<string, unknown>,
  err: unknown,
): NewDeadLetter {
  return {
    tenant: sys.tenant,
    system: sys.system,
    entity: mapper.entity,
    sourceId: id,
    record: { table: mapper.label, raw: row },
    errorKind: 'mapping',
    errorMessage: `tenant ${sys.tenant}, system ${sys.system}, table ${mapper.label} (${mapper.entity}) row ${id}: ${err instanceof Error ? err.message : String(err)}`,
    location: location(mapper, snap),
  };
}

function location(mapper: TableMapper, snap: Snapshot): string {
  return `re-read of ${mapper.label} (snapshot at ${snap.lsn})`;
}

// The bounded re-read of a `postgres` system (backfill, issue 18): the mapped table of one entity
// read again in keyset chunks (by primary key), all rows or the given ids, while the CDC stream of
// the same table may be running. Safe by the same rule as the initial snapshot (snapshot.ts): the
// chunks are read in a snapshot exported by a TEMPORARY logical slot, and every row is staged with
// version = that slot's consistent point. A change the stream stages is either in the snapshot
// (its commit LSN is at or below the point: the re-read row is as new) or after it (a higher
// version), so the staging version guard never lets the re-read regress a row. Moves no
// checkpoint and leaves the CDC slot alone; the temporary slot goes with its connection.
//
// Beyond a window or ids (the request's `source` and `all`, from `backfill --where/--table`): a trusted
// SQL predicate on the table (sent through the extended protocol, so it cannot stack statements),
// one table of the entity, and a whole-table re-read. A whole-table re-read sweeps staged rows it
// did not see (deleted at the source) and, for a table a schema change stopped, clears the stop so
// the next sync streams the table again from the slot (resumeStoppedTable, table-events.ts).
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { NewDeadLetter } from '../../../staging/control/dead-letters.js';
import { quoteIdent, quoteLiteral } from '../../../staging/identifiers.js';
import type { Change } from '../../../staging/model/change.js';
import { TrueupError } from '../../../staging/model/errors.js';
import { withTenantScope } from '../../../staging/tenant-scope.js';
import type { RereadRequest, SourcePass, StreamOutput, StreamPlan, SystemHandle } from '../contract.js';
import { addChange, newPendingUnit, type PendingUnit } from '../pending-unit.js';
import type { PostgresSystemConfig } from './config.js';
import { lsnToBigInt } from './lsn.js';
import { TableMapper } from './mapping.js';
import { describeHolder, SlotClaim } from './slot-claim.js';
import { connectReplication, connectSource } from './source-admin.js';
import { resumeStoppedTable, stoppedTable } from './table-events.js';

/** Rows per keyset chunk (and per staging unit); ids per `IN` lookup. */
const CHUNK_ROWS = 2_000;
const TIMESTAMP_OID = 1114;

export class PostgresRereadError extends TrueupError {
  override name = 'PostgresRereadError';
}

/** What a postgres re-read takes beyond the contract's request (`backfill --where`, `--table`). */
export function rereadPostgres(sys: SystemHandle<PostgresSystemConfig>, request: RereadRequest): SourcePass {
  const table = request.source?.table;
  const version = sys.options.entities?.[request.entity]?.mappingVersion;
  const all = sys.config.tables
    .filter((t) => t.entity === request.entity)
    .map((t) => new TableMapper(t, version));
  const mappers = table ? all.filter((m) => m.label === table || m.mapping.table === table) : all;
  if (table && all.length && !mappers.length)
    throw new PostgresRereadError(
      `tenant ${sys.tenant}, system ${sys.system} maps no table "${table}" to ${request.entity} (its tables: ${all.map((m) => m.label).join(', ')})`,
      { subject: { tenant: sys.tenant, system: sys.system, entity: request.entity } },
    );
  // The sweep of a whole-table re-read reads staged rows by entity: it is sound only when this
  // table is the entity's only table in the system (staged rows do not say which table they came from).
  const soleTable = all.length === 1;
  // A table mapped to other entities too stops and resumes as one (the stopped state is per
  // table): re-reading one entity's mapping must not resume the others', which missed changes.
  const sharedWith = (m: TableMapper) =>
    sys.config.tables
      .filter((t) => t.entity !== m.entity && new TableMapper(t).label === m.label)
      .map((t) => t.entity);
  const streams = mappers.map(
    (mapper): StreamPlan => ({
      name: mapper.label,
      entity: mapper.entity,
      start: () => ({
        mode: 'full',
        read: (out) => readTable(sys, mapper, request, { soleTable, sharedWith: sharedWith(mapper) }, out),
      }),
    }),
  );
  return { streams };
}

interface Snapshot {
  client: pg.Client;
  version: bigint;
  lsn: string;
  /** The `--where` predicate, or none. */
  where: string | undefined;
}

async function readTable(
  sys: SystemHandle<PostgresSystemConfig>,
  mapper: TableMapper,
  request: RereadRequest,
  table: { soleTable: boolean; sharedWith: readonly string[] },
  out: StreamOutput,
): Promise<void> {
  const url = sys.config.connection;
  const where = request.source?.where?.trim() || undefined;
  // Only a whole-table re-read without a predicate holds every row of the table: it alone may
  // sweep deletes and resume a table a schema change stopped.
  const complete = 'all' in request && where === undefined;
  const notes: string[] = [];
  let stopped = complete ? await stoppedTable(sys.staging, sys.tenant, sys.system, sys.config, mapper) : null;
  if (stopped && table.sharedWith.length) {
    notes.push(
      `table ${mapper.label} stays stopped: it is also mapped to ${table.sharedWith.join(', ')}, whose changes it missed too (re-snapshot the source to resume it)`,
    );
    stopped = null;
  }
  let claim: SlotClaim | undefined;
  let repl: pg.Client | undefined;
  let client: pg.Client | undefined;
  try {
    if (stopped) {
      // While the stop is cleared no reader may stream the slot: the re-read's snapshot must start at
      // or after the stream's checkpoint, so the resumed stream re-reads (and the version guard
      // ignores) what the snapshot already holds, and loses nothing after it.
      claim = new SlotClaim(sys.staging, { tenant: sys.tenant, system: sys.system, slot: stopped.slot });
      const got = await claim.tryClaim();
      if (!got.claimed)
        throw new PostgresRereadError(
          `tenant ${sys.tenant}, system ${sys.system}: table ${mapper.label} is stopped and its slot "${stopped.slot}" is streamed by ${describeHolder(got.holder)}; ` +
            'stop that sync (or serve) while this backfill re-reads the table and resumes it, then start it again',
          { kind: 'transient', subject: { tenant: sys.tenant, system: sys.system, entity: mapper.entity } },
        );
    }
    repl = await connectReplication(url);
    // The exported snapshot lives while the replication connection runs no other command.
    const slot = `trueup_reread_${randomBytes(6).toString('hex')}`;
    const res = await repl.query(
      `CREATE_REPLICATION_SLOT ${quoteIdent(slot)} TEMPORARY LOGICAL pgoutput (SNAPSHOT 'export')`,
    );
    const created = res.rows[0] as { consistent_point: string; snapshot_name: string };
    client = await connectSource(url, 'trueup-reread');
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    await client.query(`SET TRANSACTION SNAPSHOT '${created.snapshot_name.replaceAll("'", "''")}'`);
    const snap: Snapshot = {
      client,
      version: lsnToBigInt(created.consistent_point),
      lsn: created.consistent_point,
      where,
    };
    out.logger.info(
      { table: mapper.label, lsn: snap.lsn, where },
      're-reading in a snapshot consistent with the stream',
    );
    const keyTypes = await columnTypes(client, mapper, mapper.mapping.key);
    // A mapped column the table no longer has would read as null for every row (and a stopped
    // table would be resumed with its mapping still broken): fix the mapping first.
    const types = await columnTypes(client, mapper, mapper.columnRefs(), true);
    const absent = mapper.columnRefs().filter((_c, i) => types[i] === undefined);
    if (absent.length)
      throw new PostgresRereadError(
        `tenant ${sys.tenant}, system ${sys.system}: table ${mapper.label} has no column ${absent.map((c) => `"${c}"`).join(', ')} that the ${mapper.entity} mapping reads; fix the mapping first`,
        { subject: { tenant: sys.tenant, system: sys.system, entity: mapper.entity } },
      );
    if ('ids' in request) await readIds(sys, mapper, snap, keyTypes, request.ids, out);
    else {
      const failed = await readWindow(
        sys,
        mapper,
        snap,
        keyTypes,
        'window' in request ? request.window : null,
        out,
      );
      if (complete) {
        if (table.soleTable) await sweepUnseen(sys, mapper, snap, failed, out);
        else
          notes.push(
            `${mapper.entity} has several tables in ${sys.system}: staged rows deleted at the source are not swept (re-snapshot to sweep them)`,
          );
      }
    }
    await client.query('COMMIT');
    if (stopped) {
      if (!claim?.held)
        throw new PostgresRereadError(
          `tenant ${sys.tenant}, system ${sys.system}: lost the claim on slot "${stopped.slot}" during the re-read of ${mapper.label}; it stays stopped — run the backfill again`,
          { kind: 'transient', subject: { tenant: sys.tenant, system: sys.system, entity: mapper.entity } },
        );
      await resumeStoppedTable(sys.staging, sys.tenant, sys.system, stopped.slot, mapper, snap.lsn);
      notes.push(`table ${mapper.label} resumed: the next sync streams it again from slot ${stopped.slot}`);
      out.logger.info({ table: mapper.label, lsn: snap.lsn }, 'stopped table re-read and resumed');
    }
    if (notes.length) out.note(notes.join('; '));
  } catch (err) {
    if (where !== undefined && isSqlError(err))
      throw new PostgresRereadError(
        `tenant ${sys.tenant}, system ${sys.system}: re-read of ${mapper.label} with --where ${JSON.stringify(where)} failed`,
        { subject: { tenant: sys.tenant, system: sys.system, entity: mapper.entity }, cause: err },
      );
    throw err;
  } finally {
    await client?.end().catch(() => {});
    await repl?.end().catch(() => {});
    await claim?.release();
  }
}

/** A syntax or semantic error of SQL text (SQLSTATE class 42), the likely fault of a predicate. */
function isSqlError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('42');
}

/**
 * After a whole-table re-read: staged live rows of the table older than the snapshot that it did
 * not see were deleted at the source (or left the mapping's filter); they become tombstones at the
 * snapshot's version, as the initial snapshot's sweep does. Rows the re-read dead-lettered were
 * seen and stay. A row the stream staged after the snapshot has a higher version and stays.
 */
async function sweepUnseen(
  sys: SystemHandle<PostgresSystemConfig>,
  mapper: TableMapper,
  snap: Snapshot,
  deadLettered: ReadonlySet<string>,
  out: StreamOutput,
): Promise<void> {
  let previous = new Set<string>();
  for (;;) {
    const res = await withTenantScope(sys.staging.pool, sys.tenant, (c) =>
      c.query<{ source_id: string }>(
        `SELECT source_id FROM staging.${quoteIdent(mapper.entity)}
          WHERE tenant_id = $1 AND system = $2 AND version < $3 AND deleted_at IS NULL
            AND NOT (source_id = ANY($4::text[])) ORDER BY source_id LIMIT ${CHUNK_ROWS}`,
        [sys.tenant, sys.system, snap.version.toString(), [...deadLettered]],
      ),
    );
    const ids = res.rows.map((r) => r.source_id);
    // Guard: a page that repeats the last one staged nothing (cannot happen: a newer delete applies).
    if (!ids.length || ids.every((id) => previous.has(id))) return;
    previous = new Set(ids);
    const unit = newPendingUnit();
    for (const id of ids)
      addChange(unit, mapper.entity, { sourceId: id, version: snap.version, op: 'delete' });
    await out.commit({ lsn: snap.lsn, swept: ids.length }, unit, `sweep of ${location(mapper, snap)}`);
  }
}

/** SQL type text of the given columns of the mapped table, in that order (a key column must exist). */
async function columnTypes(
  client: pg.Client,
  mapper: TableMapper,
  cols: readonly string[],
): Promise<string[]>;
async function columnTypes(
  client: pg.Client,
  mapper: TableMapper,
  cols: readonly string[],
  absentOk: true,
): Promise<(string | undefined)[]>;
async function columnTypes(
  client: pg.Client,
  mapper: TableMapper,
  cols: readonly string[],
  absentOk = false,
): Promise<(string | undefined)[]> {
  const res = await client.query<{ attname: string; type: string }>(
    `SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute
      WHERE attrelid = $1::regclass AND attname = ANY($2::text[]) AND attnum > 0 AND NOT attisdropped`,
    [mapper.qualified, cols],
  );
  const types = new Map(res.rows.map((r) => [r.attname, r.type]));
  return cols.map((c) => {
    const t = types.get(c);
    if (!t && !absentOk) throw new PostgresRereadError(`table ${mapper.label} has no key column "${c}"`);
    return t;
  });
}

/**
 * Every row whose mapped updatedAt lies in [from, to) (every row with no window), in key order, a
 * chunk at a time. Returns the ids it dead-lettered.
 */
async function readWindow(
  sys: SystemHandle<PostgresSystemConfig>,
  mapper: TableMapper,
  snap: Snapshot,
  keyTypes: readonly string[],
  window: { from: string; to: string } | null,
  out: StreamOutput,
): Promise<Set<string>> {
  const failed = new Set<string>();
  const keys = mapper.mapping.key.map((k) => `t.${quoteIdent(k)}`);
  const inWindow = window ? await windowPredicate(sys, mapper, snap) : null;
  const first = inWindow ? 3 : 1;
  let last: string[] | undefined;
  for (;;) {
    const conds = [
      ...(inWindow ? [inWindow] : []),
      ...(last
        ? [`(${keys.join(', ')}) > (${keyTypes.map((ty, i) => `$${first + i}::${ty}`).join(', ')})`]
        : []),
    ];
    const rows = await selectRows(
      snap,
      mapper,
      conds.length ? conds.join(' AND ') : 'true',
      `ORDER BY ${keys.join(', ')} LIMIT ${CHUNK_ROWS}`,
      [...(window ? [window.from, window.to] : []), ...(last ?? [])],
    );
    if (!rows.length) return failed;
    const unit = newPendingUnit();
    for (const r of rows) {
      const before = unit.deadLetters.length;
      const id = addRow(sys, mapper, snap, unit, r);
      if (id !== null && unit.deadLetters.length > before) failed.add(id);
    }
    out.received(rows.length);
    const end = rows.at(-1)!;
    last = mapper.mapping.key.map((k) => end[k] as string);
    await out.commit({ lsn: snap.lsn, after: last }, unit, location(mapper, snap));
    if (rows.length < CHUNK_ROWS) return failed;
  }
}

/** `$1 <= updatedAt < $2` on the mapping's updatedAt (a naive timestamp read in the table's zone). */
async function windowPredicate(
  sys: SystemHandle<PostgresSystemConfig>,
  mapper: TableMapper,
  snap: Snapshot,
): Promise<string> {
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
  return `${stamp} >= $1::timestamptz AND ${stamp} < $2::timestamptz`;
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
    // With --where, an id not returned may just not match the predicate: nothing is tombstoned.
    if (missing.length && snap.where !== undefined)
      out.note(`${missing.length} id(s) not returned (deleted, or not matching --where): not tombstoned`);
    else if (missing.length) {
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
  // The --where predicate goes in as trusted SQL text (like a mapping's filter), parenthesised and
  // sent through the extended protocol: one statement only, so `true); DROP TABLE x; SELECT (1`
  // fails instead of running a second statement (and the transaction is READ ONLY besides).
  const predicate = snap.where === undefined ? where : `(${where}) AND (${snap.where})`;
  const res = await snap.client.query({
    text: `SELECT t.* FROM (${mapper.snapshotSql()}) AS t WHERE ${predicate} ${tail}`,
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

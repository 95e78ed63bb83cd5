// Everything trueup asks of the source Postgres outside the change stream: connections,
// publication and slot management, catalog lookups for the mapped tables, heartbeats, and the
// slot figures `trueup status` shows.
import pg from 'pg';
import { quoteIdent } from '../../../staging/identifiers.js';
import { CdcError, type CdcErrorDetail } from './errors.js';
import type { RelationColumn, TableMapper } from './mapping.js';

export const HEARTBEAT_PREFIX = 'trueup_heartbeat';

/** Every value stays text: mapping works on the output form, the same as pgoutput's. */
const TEXT_TYPES = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

/** An ordinary source connection (catalog, expression evaluation, heartbeats). */
export async function connectSource(
  url: string,
  applicationName = 'trueup-cdc',
  opts: { connectTimeoutMs?: number } = {},
): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    types: TEXT_TYPES,
    application_name: applicationName,
    keepAlive: true,
    ...(opts.connectTimeoutMs ? { connectionTimeoutMillis: opts.connectTimeoutMs } : {}),
  });
  client.on('error', () => {}); // surfaced by the next query
  await client.connect();
  return client;
}

/** A replication-protocol connection (CREATE_REPLICATION_SLOT … SNAPSHOT 'export'). */
export async function connectReplication(url: string): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    replication: 'database',
    types: TEXT_TYPES,
    application_name: 'trueup-cdc-snapshot',
  } as pg.ClientConfig);
  client.on('error', () => {});
  await client.connect();
  return client;
}

export interface SlotInfo {
  slot: string;
  plugin: string | null;
  database: string | null;
  active: boolean;
  confirmedFlushLsn: string | null;
  restartLsn: string | null;
  walStatus: string | null;
  safeWalSize: string | null;
  currentLsn: string;
  bytesBehind: string | null;
}

export async function slotInfo(client: pg.ClientBase, slot: string): Promise<SlotInfo | undefined> {
  const res = await client.query(
    `SELECT slot_name, plugin, database, active::text AS active, confirmed_flush_lsn::text AS confirmed,
            restart_lsn::text AS restart, wal_status, safe_wal_size::text AS safe,
            pg_current_wal_lsn()::text AS current,
            pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS behind
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  const r = res.rows[0];
  if (!r) return undefined;
  return {
    slot: r.slot_name,
    plugin: r.plugin,
    database: r.database,
    active: r.active === 'true',
    confirmedFlushLsn: r.confirmed,
    restartLsn: r.restart,
    walStatus: r.wal_status,
    safeWalSize: r.safe,
    currentLsn: r.current,
    bytesBehind: r.behind,
  };
}

export async function dropSlot(client: pg.ClientBase, slot: string): Promise<void> {
  await client.query(
    'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
}

export interface CreatedSlot {
  consistentPoint: string;
  snapshotName: string;
}

/** Creates the slot and exports a snapshot that holds exactly the data before its consistent point. */
export async function createSlotWithSnapshot(repl: pg.Client, slot: string): Promise<CreatedSlot> {
  const res = await repl.query(
    `CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput (SNAPSHOT 'export')`,
  );
  const r = res.rows[0] as { consistent_point: string; snapshot_name: string };
  return { consistentPoint: r.consistent_point, snapshotName: r.snapshot_name };
}

/** Creates the publication for the mapped tables, or adds tables it lacks. */
export async function ensurePublication(
  client: pg.ClientBase,
  publication: string,
  mappers: readonly TableMapper[],
  requireExisting: boolean,
  detail: CdcErrorDetail,
): Promise<void> {
  const exists = await client.query(
    'SELECT puballtables::text AS all FROM pg_publication WHERE pubname = $1',
    [publication],
  );
  const tables = mappers.map((m) => m.qualified);
  if (!exists.rows[0]) {
    if (requireExisting)
      throw new CdcError(
        `tenant ${detail.tenant}, system ${detail.system}: publication "${publication}" does not exist and requireExisting is set`,
        'terminal',
        detail,
      );
    await client.query(`CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE ${tables.join(', ')}`);
    return;
  }
  if (exists.rows[0].all === 'true') return;
  const have = await client.query(
    'SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1',
    [publication],
  );
  const present = new Set(have.rows.map((r) => `${r.schemaname}.${r.tablename}`));
  const missing = mappers.filter((m) => !present.has(m.label));
  if (!missing.length) return;
  if (requireExisting)
    throw new CdcError(
      `tenant ${detail.tenant}, system ${detail.system}: publication "${publication}" lacks ${missing.map((m) => m.label).join(', ')}`,
      'terminal',
      detail,
    );
  await client.query(
    `ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLE ${missing.map((m) => m.qualified).join(', ')}`,
  );
}

export interface TableCatalog {
  columns: (RelationColumn & { typeOid: number })[];
  replicaIdentity: string;
  identityColumns: string[];
}

/** Columns (with SQL type text) and replica identity of a mapped table; a missing table is an error. */
export async function tableCatalog(
  client: pg.ClientBase,
  mapper: TableMapper,
  detail: CdcErrorDetail,
): Promise<TableCatalog> {
  const rel = await client.query(
    `SELECT c.oid::text AS oid, c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [mapper.mapping.schema, mapper.mapping.table],
  );
  if (!rel.rows[0])
    throw new CdcError(
      `tenant ${detail.tenant}, system ${detail.system}: table ${mapper.label} does not exist`,
      'terminal',
      {
        ...detail,
        table: mapper.label,
      },
    );
  const oid = rel.rows[0].oid as string;
  const cols = await client.query(
    `SELECT attname, format_type(atttypid, atttypmod) AS type, atttypid::text AS typeoid
       FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [oid],
  );
  const ident = await client.query(
    `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
      WHERE i.indrelid = $1::oid AND ((i.indisprimary AND $2 = 'd') OR (i.indisreplident AND $2 = 'i'))`,
    [oid, rel.rows[0].relreplident],
  );
  return {
    columns: cols.rows.map((r) => ({ name: r.attname, type: r.type, typeOid: Number(r.typeoid) })),
    replicaIdentity: rel.rows[0].relreplident,
    identityColumns: ident.rows.map((r) => r.attname),
  };
}

/** SQL type text for pgoutput's (type oid, typmod) pairs. */
export async function formatTypes(
  client: pg.ClientBase,
  pairs: readonly { typeOid: number; typeMod: number }[],
): Promise<string[]> {
  const res = await client.query(
    'SELECT format_type(o, m) AS t FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY AS u(o, m, n) ORDER BY n',
    [pairs.map((p) => p.typeOid), pairs.map((p) => p.typeMod)],
  );
  return res.rows.map((r) => r.t as string);
}

/** A non-transactional logical message: gives the slot a position to advance to on idle sources. */
export async function emitHeartbeat(client: pg.ClientBase, content = ''): Promise<string> {
  const res = await client.query('SELECT pg_logical_emit_message(false, $1, $2)::text AS lsn', [
    HEARTBEAT_PREFIX,
    content,
  ]);
  return res.rows[0].lsn as string;
}

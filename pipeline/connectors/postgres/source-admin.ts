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

/**
 * Creates the publication for the mapped tables, or adds tables it lacks.
 *
 * A partitioned table's rows live in its partitions, and pgoutput names each change after the
 * partition unless the publication has `publish_via_partition_root`: trueup creates its
 * publications with it (harmless for plain tables), and refuses an existing publication without
 * it when a mapped table is partitioned — its changes would arrive under names no mapping knows.
 * An existing publication must also publish all four operations, or those changes would be lost.
 */
export async function ensurePublication(
  client: pg.ClientBase,
  publication: string,
  mappers: readonly TableMapper[],
  requireExisting: boolean,
  detail: CdcErrorDetail,
): Promise<void> {
  const exists = await client.query(
    `SELECT puballtables::text AS all, pubinsert::text AS insert, pubupdate::text AS update,
            pubdelete::text AS delete, pubtruncate::text AS truncate, pubviaroot::text AS viaroot
       FROM pg_publication WHERE pubname = $1`,
    [publication],
  );
  // A table mapped to several entities is published once.
  const tables = [...new Map(mappers.map((m) => [m.label, m])).values()];
  const row = exists.rows[0] as Record<string, string> | undefined;
  const say = `tenant ${detail.tenant}, system ${detail.system}: publication "${publication}"`;
  // Before creating or altering anything: a refused configuration leaves the source as it was.
  await refusePartitionsPublishedViaRoot(client, publication, row, tables, detail);
  if (!row) {
    if (requireExisting)
      throw new CdcError(`${say} does not exist and requireExisting is set`, 'terminal', detail);
    await client.query(
      `CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE ${tables.map((m) => m.qualified).join(', ')}
         WITH (publish_via_partition_root = true)`,
    );
    return;
  }
  const lacking = ['insert', 'update', 'delete', 'truncate'].filter((op) => row[op] !== 'true');
  if (lacking.length)
    throw new CdcError(
      `${say} does not publish ${lacking.join(', ')}, so those changes would be lost. ` +
        `Run ALTER PUBLICATION ${quoteIdent(publication)} SET (publish = 'insert, update, delete, truncate')`,
      'terminal',
      detail,
    );
  if (row.viaroot !== 'true') {
    const parted = await partitionedTables(client, tables);
    if (parted.length)
      throw new CdcError(
        `${say} lacks publish_via_partition_root, so changes of the partitioned table${parted.length > 1 ? 's' : ''} ` +
          `${parted.map((m) => m.label).join(', ')} would arrive under their partitions' names and be lost. ` +
          `Run ALTER PUBLICATION ${quoteIdent(publication)} SET (publish_via_partition_root = true)`,
        'terminal',
        detail,
      );
  }
  if (row.all === 'true') return;
  const missing: TableMapper[] = [];
  for (const m of tables) if (!(await isPublished(client, publication, m))) missing.push(m);
  if (!missing.length) return;
  if (requireExisting)
    throw new CdcError(`${say} lacks ${missing.map((m) => m.label).join(', ')}`, 'terminal', detail);
  await client.query(
    `ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLE ${missing.map((m) => m.qualified).join(', ')}`,
  );
}

/**
 * Refuses a mapped partition whose changes pgoutput would report under an ancestor's name.
 *
 * With `publish_via_partition_root` (trueup's own publications always have it) pgoutput names a
 * partition's change after its topmost ancestor that the publication covers: directly, through
 * its schema or FOR ALL TABLES. A mapping of the partition would then match nothing in the
 * stream, although the snapshot (which reads the partition itself) staged its rows: the two
 * would silently disagree. An ancestor that another mapping names counts as covered, since the
 * publication gets it. Without publish_via_partition_root, or with no covered ancestor, the
 * partition's changes carry its own name and its mapping works.
 */
async function refusePartitionsPublishedViaRoot(
  client: pg.ClientBase,
  publication: string,
  row: Record<string, string> | undefined,
  tables: readonly TableMapper[],
  detail: CdcErrorDetail,
): Promise<void> {
  if (row && row.viaroot !== 'true') return;
  const mapped = new Set(tables.map((m) => m.label));
  for (const m of tables) {
    // Ancestors from the parent upwards, each with whether the publication covers it.
    const res = await client.query(
      `SELECT an.nspname AS schema, ac.relname AS table,
              EXISTS (SELECT 1 FROM pg_publication_tables p
                       WHERE p.pubname = $3 AND p.schemaname = an.nspname AND p.tablename = ac.relname) AS published,
              pg_get_expr(c.relpartbound, c.oid) AS bound,
              pg_get_partkeydef(i.inhparent) AS partkey
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_inherits i ON i.inhrelid = c.oid
         CROSS JOIN LATERAL pg_partition_ancestors(c.oid) WITH ORDINALITY AS a(relid, n)
         JOIN pg_class ac ON ac.oid = a.relid JOIN pg_namespace an ON an.oid = ac.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND c.relispartition AND a.relid <> c.oid
        ORDER BY a.n`,
      [m.mapping.schema, m.mapping.table, publication],
    );
    const rows = res.rows as {
      schema: string;
      table: string;
      published: boolean | string;
      bound: string;
      partkey: string;
    }[];
    const covered = rows.filter(
      (r) => r.published === true || r.published === 't' || mapped.has(`${r.schema}.${r.table}`),
    );
    const root = covered.at(-1);
    if (!root) continue;
    const rootLabel = `${root.schema}.${root.table}`;
    const first = rows[0]!;
    throw new CdcError(
      `tenant ${detail.tenant}, system ${detail.system}: table ${m.label} is a partition of ${rootLabel}, and publication ` +
        `"${publication}" publishes via the partition root (publish_via_partition_root), so its changes arrive under ` +
        `${rootLabel} and the mapping of ${m.label} (entity ${m.entity}) would never receive them. ` +
        `Map the root table ${rootLabel} instead (schema: ${root.schema}, table: ${root.table}); if only this partition's ` +
        `rows are wanted, give that mapping a \`filter\` over the partition key ${first.partkey} matching this partition's ${first.bound}`,
      'terminal',
      { ...detail, table: m.label },
    );
  }
}

/** The mapped tables that are partitioned (relkind p). */
async function partitionedTables(
  client: pg.ClientBase,
  mappers: readonly TableMapper[],
): Promise<TableMapper[]> {
  const out: TableMapper[] = [];
  for (const m of mappers) {
    const res = await client.query(
      `SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'p'`,
      [m.mapping.schema, m.mapping.table],
    );
    if (res.rows.length) out.push(m);
  }
  return out;
}

/**
 * Whether the publication covers a table: listed in pg_publication_tables (directly or through
 * its schema), or the table or a partition ancestor of it is a member (pg_publication_rel): a
 * partitioned table added to a publication without publish_via_partition_root is listed only
 * through its partitions there, and adding it again fails ("already member").
 */
async function isPublished(client: pg.ClientBase, publication: string, m: TableMapper): Promise<boolean> {
  const res = await client.query(
    `SELECT EXISTS (SELECT 1 FROM pg_publication_tables
                     WHERE pubname = $1 AND schemaname = $2 AND tablename = $3)
         OR EXISTS (SELECT 1 FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid
                     WHERE p.pubname = $1
                       AND r.prrelid IN (SELECT relid FROM pg_partition_ancestors($4::regclass))) AS yes`,
    [publication, m.mapping.schema, m.mapping.table, m.qualified],
  );
  return res.rows[0]?.yes === true || res.rows[0]?.yes === 't';
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

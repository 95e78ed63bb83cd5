// The local columnar mirror of one tenant × entity: a DuckDB file with one narrow row per staged
// record and side (mirror-layout.ts says what a row holds). Matching runs entirely on this mirror;
// comparison uses the content hash to find the few pairs whose contents differ and reads only
// those records in full from staging (wide-rows.ts).
//
// Why narrow: measured on 2M × 2M customers, loading every canonical column into DuckDB cost more
// than the Postgres COPY itself (one string value at a time into compressed column segments),
// while a pair with equal hashes never needs its values. Equal hashes mean equal staged values
// (a false "equal" needs a 64-bit collision, ≈ 5·10⁻²⁰ per differing pair), and equal values are
// equal under every comparator, so the hash filter changes no result.
//
// Refresh by staged_seq delta: rows staged after the mirror's last_seq replace their older
// versions, found by source-id token and confirmed by a second hash of the id; the tokens of those older
// versions are kept until a run has examined them, because their old keys point at the records
// an incremental run must re-examine (scope.ts). A job refreshes inside the one DuckDB
// transaction it commits after its results are written (reconcile-job.ts), so a failed job
// leaves the mirror as it was and the next one reads the same delta again; the older versions
// replaced by the job's own refresh therefore live in the temp tables tprev_crm/tprev_erp, and
// only those replaced by an in-flight confirmation's refresh — examined by the next run — are
// kept in the mirror's prev_crm/prev_erp. Every refresh first reads the newest staged_seq, then
// copies each side's rows up to it in parallel streams: writers of a tenant × entity commit in
// staged_seq order (staging serialises them), so every row staged up to that seq is committed and
// read, and every row staged later has a larger staged_seq and comes with the next refresh. The
// cold path may split each side further into staged_seq ranges.
// COPY takes no $n parameters, so values in the COPY queries (validated tenant id, system names,
// integers) are quoted with quoteLiteral and identifiers with quoteIdent.
import { statSync } from 'node:fs';
import type pg from 'pg';
import { assertTenantId, quoteIdent, quoteLiteral } from '../staging/identifiers.js';
import type { Duck } from './duck.js';
import { duckSql, statements } from './duck.js';
import type { ReconcileJob } from './job-protocol.js';
import {
  contentHashSql,
  csvColumns,
  type MirrorLayout,
  mirrorRowsSql,
  narrowColumns,
  prevColumns,
  SIDES,
  type Side,
  tableColumns,
  tokenColumns,
} from './mirror-layout.js';
import type { PhaseClock } from './phase-clock.js';
import { pgToFile, readCsv, type Scratch } from './transfer.js';

export { type MirrorLayout, mirrorLayout, SIDES, type Side } from './mirror-layout.js';

/** Bumped whenever a mirror's tables change shape; an older mirror is rebuilt. */
const MIRROR_FORMAT = 5;

export async function getMeta(duck: Duck, k: string): Promise<string | undefined> {
  const rows = await duck.rows<{ v: string }>('SELECT v FROM meta WHERE k = $k', { k });
  return rows[0]?.v;
}

export async function setMeta(duck: Duck, k: string, v: string): Promise<void> {
  await duck.run('INSERT OR REPLACE INTO meta VALUES ($k, $v)', { k, v });
}

export interface MirrorRefresh {
  cold: boolean;
  /** Staged rows read from Postgres. */
  rowsCopied: number;
  /** Rows in the mirror (both sides). */
  rows: number;
  /** The mirror holds every staged row up to this staged_seq. */
  lastSeq: bigint;
  /** Where the content hashes came from: staging's stored column, or computed while copying. */
  contentHash: 'stored' | 'computed';
}

/** Postgres SELECT of staged rows in mirror CSV layout (side first), seq in (lo, hi]. */
function narrowSelect(
  job: ReconcileJob,
  layout: MirrorLayout,
  hash: string,
  sides: readonly Side[],
  lo: bigint,
  hi?: bigint,
): string {
  const { crm } = job.config.systems;
  const side =
    sides.length === 1
      ? quoteLiteral(sides[0]!)
      : `CASE WHEN system = ${quoteLiteral(crm)} THEN 'crm' ELSE 'erp' END`;
  return `SELECT ${side}, ${narrowColumns(layout, hash).join(', ')}
    FROM staging.${quoteIdent(job.entity)}
    WHERE tenant_id = ${quoteLiteral(assertTenantId(job.tenant))}
      AND system IN (${sides.map((s) => quoteLiteral(job.config.systems[s])).join(', ')})
      AND staged_seq > ${lo.toString()}${hi === undefined ? '' : ` AND staged_seq <= ${hi.toString()}`}`;
}

/** Staging's stored content hash column (see storedHash). */
const STORED_HASH = 'content_hash';

/**
 * The staged content hash, when staging stores one (a generated column `content_hash`, see
 * README, Reconciliation › Performance): Postgres then reads it instead of hashing every copied
 * row. Used only if it equals the mirror's hash on a sample of the tenant's rows — a definition over other
 * fields or in another order differs on every row — so a stale definition costs speed, never
 * correctness.
 */
async function storedHash(pool: pg.Pool, job: ReconcileJob, layout: MirrorLayout): Promise<string> {
  const computed = contentHashSql(layout);
  const { rows } = await pool.query<{ bad: number }>(
    `SELECT count(*) FILTER (WHERE content_hash IS DISTINCT FROM ${computed})::int AS bad
       FROM (SELECT * FROM staging.${quoteIdent(job.entity)} WHERE tenant_id = $1 LIMIT 16) s`,
    [job.tenant],
  );
  return rows[0]?.bad === 0 ? STORED_HASH : computed;
}

async function copyOut(pool: pg.Pool, select: string, file: string): Promise<boolean> {
  const client = await pool.connect();
  try {
    await pgToFile(client, select, file);
  } finally {
    client.release();
  }
  return statSync(file).size > 0;
}

/**
 * Brings the mirror up to the staged rows committed now, inside the caller's open DuckDB
 * transaction. The tokens of the versions it replaces go to `tprev_*` (this job examines them), or
 * with `keepPrev` to the mirror's `prev_*` (the next run examines them).
 */
export async function refreshMirror(
  duck: Duck,
  pool: pg.Pool,
  job: ReconcileJob,
  layout: MirrorLayout,
  scratch: Scratch,
  clock?: PhaseClock,
  keepPrev = false,
): Promise<MirrorRefresh> {
  await duck.run('CREATE TABLE IF NOT EXISTS meta (k VARCHAR PRIMARY KEY, v VARCHAR)');
  const versionQuery = pool.query<{ v: string; stored: boolean }>(
    `SELECT current_setting('server_version_num') AS v,
            EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'content_hash'
                       AND attgenerated = 's' AND NOT attisdropped) AS stored`,
    [`staging.${quoteIdent(job.entity)}`],
  );
  versionQuery.catch(() => {});
  const stagingQuery = stagingIdentity(pool);
  const hiQuery = maxSeq(pool, job);
  stagingQuery.catch(() => {});
  hiQuery.catch(() => {});
  const duckVersion = await duck.rows<{ v: string }>('SELECT version() AS v');
  const meta = await duck.rows<{ k: string; v: string }>('SELECT k, v FROM meta');
  const version = await versionQuery;
  const staging = await stagingQuery;
  const hi0 = await hiQuery;
  const hash = version.rows[0]?.stored ? await storedHash(pool, job, layout) : contentHashSql(layout);
  const m = new Map(meta.map((r) => [r.k, r.v]));
  // Content hashes are comparable only from one Postgres major version, tokens only from one
  // DuckDB version, and both only under one layout; the rows and staged_seqs only from one
  // staging database (another URL, or staging restored from a backup into a new database, has
  // its own rows under the same data folder).
  const identity = JSON.stringify({
    f: MIRROR_FORMAT,
    pg: Math.floor(Number(version.rows[0]?.v ?? 0) / 10_000),
    duckdb: duckVersion[0]?.v,
    staging,
    systems: job.config.systems,
    layout,
  });
  const lastSeq = BigInt(m.get('last_seq') ?? '0');
  // Staging behind the mirror (restored in place from an older backup, rows removed): the delta
  // after last_seq would miss rows staged again under the same seqs, so start over.
  const cold =
    job.rebuildMirror === true || m.get('identity') !== identity || lastSeq === 0n || hi0 < lastSeq;
  const slots = { columns: tableColumns(layout), prev: prevColumns(layout) };
  if (cold) {
    for (const s of statements(duckSql('mirror-drop'))) await duck.run(s);
    await duck.run('DELETE FROM meta');
    for (const s of statements(duckSql('mirror-schema', slots))) await duck.run(s);
    clock?.mark('refresh.prepare');
    return coldLoad(duck, pool, job, layout, hash, scratch, identity, hi0, clock);
  }
  for (const side of SIDES)
    await duck.run(`CREATE TEMP TABLE IF NOT EXISTS tprev_${side} (${prevColumns(layout)})`);
  clock?.mark('refresh.prepare');

  // Delta: the rows of each side staged in (last_seq, hi0], one COPY per side in parallel.
  const files: string[] = [];
  if (hi0 > lastSeq)
    await Promise.all(
      SIDES.map(async (side) => {
        const file = scratch.file(`delta-${side}`);
        if (await copyOut(pool, narrowSelect(job, layout, hash, [side], lastSeq, hi0), file))
          files.push(file);
      }),
    );
  const any = files.length > 0;
  clock?.mark('refresh.copy');
  const read = `SELECT * FROM (${mirrorRowsSql(layout, readCsv(csvColumns(layout)))})`;
  if (any) await duck.run(`CREATE OR REPLACE TEMP TABLE d_all AS ${read}`, { files });
  else await duck.run(`CREATE OR REPLACE TEMP TABLE d_all AS SELECT 'crm' AS side, * FROM crm LIMIT 0`);
  for (const side of SIDES)
    await duck.run(
      `CREATE OR REPLACE TEMP VIEW d_${side} AS SELECT * EXCLUDE (side) FROM d_all WHERE side = '${side}'`,
    );
  const got = await duck.rows<{ c: bigint; e: bigint; hi: bigint | null }>(
    `SELECT count(*) FILTER (WHERE side = 'crm') AS c, count(*) FILTER (WHERE side = 'erp') AS e,
            max(staged_seq) AS hi FROM d_all`,
  );
  const hi = got[0]?.hi != null ? BigInt(got[0].hi) : lastSeq;
  const added = { crm: Number(got[0]?.c ?? 0), erp: Number(got[0]?.e ?? 0) };
  const rows = { crm: Number(m.get('rows_crm') ?? 0), erp: Number(m.get('rows_erp') ?? 0) };
  const tokens = tokenColumns(layout).join(', ');
  for (const side of SIDES) {
    if (!added[side]) continue;
    const prev = keepPrev ? `prev_${side}` : `tprev_${side}`;
    for (const s of statements(duckSql('mirror-apply-delta', { side, seq: hi.toString(), tokens, prev })))
      await duck.run(s);
    const hits = await duck.rows<{ n: bigint }>(`SELECT count(*) AS n FROM hit_${side}`);
    rows[side] += added[side] - Number(hits[0]?.n ?? 0);
  }
  await saveMeta(duck, { last_seq: hi.toString(), rows_crm: `${rows.crm}`, rows_erp: `${rows.erp}` });
  clock?.mark('refresh.apply');
  return refreshed(false, added.crm + added.erp, rows.crm + rows.erp, hi, hash);
}

/**
 * The newest staged_seq of the job's rows. Writers of a tenant × entity commit in staged_seq
 * order (staging serialises them), so once it is visible every row staged up to it is committed:
 * copies of (lo, hi] in separate connections read one consistent set of rows.
 */
async function maxSeq(pool: pg.Pool, job: ReconcileJob): Promise<bigint> {
  // One backward index step per system on the partial index (tenant_id, system, staged_seq)
  // WHERE staged_seq > 0 (migration 0009), which a query may use only when it says staged_seq > 0.
  const newest = (n: number) =>
    `(SELECT max(staged_seq) FROM staging.${quoteIdent(job.entity)}
       WHERE tenant_id = $1 AND system = $${n} AND staged_seq > 0)`;
  const { rows } = await pool.query<{ hi: string | null }>(
    `SELECT greatest(${newest(2)}, ${newest(3)})::text AS hi`,
    [job.tenant, job.config.systems.crm, job.config.systems.erp],
  );
  return rows[0]?.hi ? BigInt(rows[0].hi) : 0n;
}

/**
 * Which staging database this is: the cluster's system identifier (when the role may read it;
 * pg_control_system() is restricted by default to superusers and pg_monitor), the database's
 * name and oid. A database restored from a dump, or another database or cluster, differs in one
 * of them.
 */
async function stagingIdentity(pool: pg.Pool): Promise<{ system: string | null; db: string; oid: string }> {
  const { rows } = await pool.query<{ db: string; oid: string; can: boolean }>(
    `SELECT current_database() AS db, d.oid::text AS oid,
            has_function_privilege('pg_control_system()', 'EXECUTE') AS can
       FROM pg_database d WHERE d.datname = current_database()`,
  );
  const r = rows[0];
  let system: string | null = null;
  if (r?.can) {
    const sys = await pool.query<{ id: string }>(
      'SELECT system_identifier::text AS id FROM pg_control_system()',
    );
    system = sys.rows[0]?.id ?? null;
  }
  return { system, db: r?.db ?? '', oid: r?.oid ?? '' };
}

async function coldLoad(
  duck: Duck,
  pool: pg.Pool,
  job: ReconcileJob,
  layout: MirrorLayout,
  hash: string,
  scratch: Scratch,
  identity: string,
  hi: bigint,
  clock?: PhaseClock,
): Promise<MirrorRefresh> {
  // Parallel COPY streams: one per side, each split further by staged_seq when asked.
  const perSide = Math.max(1, Math.floor((job.copyRanges ?? 2) / 2));
  const files: Record<Side, string[]> = { crm: [], erp: [] };
  if (hi > 0n) {
    const parts: { side: Side; lo: bigint; hi: bigint; file: string }[] = [];
    const step = hi / BigInt(perSide) + 1n;
    for (const side of SIDES)
      for (let lo = 0n; lo < hi; lo += step)
        parts.push({ side, lo, hi: lo + step < hi ? lo + step : hi, file: scratch.file(`mirror-${side}`) });
    await Promise.all(
      parts.map(async (p) => {
        if (await copyOut(pool, narrowSelect(job, layout, hash, [p.side], p.lo, p.hi), p.file))
          files[p.side].push(p.file);
      }),
    );
  }
  clock?.mark('refresh.copy');
  const rows = { crm: 0, erp: 0 };
  for (const side of SIDES) {
    if (files[side].length)
      await duck.run(
        `INSERT INTO ${side} SELECT * EXCLUDE (side) FROM (${mirrorRowsSql(layout, readCsv(csvColumns(layout)))})`,
        { files: files[side] },
      );
    const n = await duck.rows<{ n: bigint }>(`SELECT count(*) AS n FROM ${side}`);
    rows[side] = Number(n[0]?.n ?? 0);
  }
  await saveMeta(duck, {
    identity,
    last_seq: hi.toString(),
    rows_crm: `${rows.crm}`,
    rows_erp: `${rows.erp}`,
  });
  clock?.mark('refresh.apply');
  return refreshed(true, rows.crm + rows.erp, rows.crm + rows.erp, hi, hash);
}

function refreshed(
  cold: boolean,
  rowsCopied: number,
  rows: number,
  lastSeq: bigint,
  hash: string,
): MirrorRefresh {
  return { cold, rowsCopied, rows, lastSeq, contentHash: hash === STORED_HASH ? 'stored' : 'computed' };
}

/** Sets several meta keys in one statement. */
export async function saveMeta(duck: Duck, kv: Record<string, string>): Promise<void> {
  const entries = Object.entries(kv);
  if (!entries.length) return;
  const params: Record<string, string> = {};
  const values = entries.map(([k, v], i) => {
    params[`k${i}`] = k;
    params[`v${i}`] = v;
    return `($k${i}, $v${i})`;
  });
  await duck.run(`INSERT OR REPLACE INTO meta VALUES ${values.join(', ')}`, params);
}

/** Forgets the kept older versions a run has examined (captured by refreshes up to `seq`). */
export async function clearPrev(duck: Duck, seq: bigint): Promise<void> {
  for (const side of SIDES)
    await duck.run(`DELETE FROM prev_${side} WHERE at_seq <= $s`, { s: seq.toString() });
}

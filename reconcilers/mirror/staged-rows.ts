// The mirror's reads of staging (Postgres): the narrow rows of a side staged in a staged_seq range
// as a COPY query, the newest staged_seq, which staging database and Postgres major this is, and
// whether staging stores the content hash. COPY takes no $n parameters, so the values of its query
// (validated tenant id, system names, integers) are quoted literals and identifiers are quoted.
import { statSync } from 'node:fs';
import pg from 'pg';
import { assertTenantId, quoteIdent, quoteLiteral } from '../../staging/identifiers.js';
import type { Entity } from '../../staging/model/entities.js';
import { withTenantScope } from '../../staging/tenant-scope.js';
import { pgToFile } from '../duckdb/transfer.js';
import type { ReconcileJob } from '../pool/job-protocol.js';
import { contentHashSql, type MirrorLayout, narrowColumns, type Side } from './mirror-layout.js';

/** Postgres SELECT of one side's staged rows in mirror CSV layout (side first), seq in (lo, hi]. */
export function narrowSelect(
  job: ReconcileJob,
  layout: MirrorLayout,
  hash: string,
  side: Side,
  range: { lo: bigint; hi: bigint },
): string {
  return `SELECT ${quoteLiteral(side)}, ${narrowColumns(layout, hash).join(', ')}
    FROM staging.${quoteIdent(job.entity)}
    WHERE tenant_id = ${quoteLiteral(assertTenantId(job.tenant))}
      AND system IN (${quoteLiteral(job.config.systems[side])})
      AND staged_seq > ${range.lo.toString()} AND staged_seq <= ${range.hi.toString()}`;
}

/**
 * Runs a COPY query into `file` on a connection of its own, under the tenant's scope (Postgres then
 * admits only that tenant's rows, staging/tenant-scope.ts); false when no row came.
 */
export async function copyOut(pool: pg.Pool, select: string, file: string, tenant: string): Promise<boolean> {
  await withTenantScope(pool, tenant, (client) => pgToFile(client, select, file));
  return statSync(file).size > 0;
}

/** Staging's stored content hash column (see storedHash). */
export const STORED_HASH = 'content_hash';

/**
 * The content hash expression to copy: staging's stored column when there is one (a generated
 * column `content_hash`, docs/reconcile.md "Performance") and it equals the mirror's hash on a
 * sample of the tenant's rows — a definition over other fields or in another order differs on
 * every row — else the hash computed while copying. A stale definition costs speed, never correctness.
 */
export async function contentHash(pool: pg.Pool, job: ReconcileJob, layout: MirrorLayout): Promise<string> {
  const computed = contentHashSql(layout);
  const table = `staging.${quoteIdent(job.entity)}`;
  const stored = await pool.query<{ stored: boolean }>(
    // (the catalog only: no tenant's rows)
    `SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'content_hash'
                      AND attgenerated = 's' AND NOT attisdropped) AS stored`,
    [table],
  );
  if (!stored.rows[0]?.stored) return computed;
  const { rows } = await withTenantScope(pool, job.tenant, (client) =>
    client.query<{ bad: number }>(
      `SELECT count(*) FILTER (WHERE content_hash IS DISTINCT FROM ${computed})::int AS bad
         FROM (SELECT * FROM ${table} WHERE tenant_id = $1 LIMIT 16) s`,
      [job.tenant],
    ),
  );
  return rows[0]?.bad === 0 ? STORED_HASH : computed;
}

/**
 * The newest staged_seq of the job's rows. Writers of a tenant × entity commit in staged_seq
 * order (staging serialises them), so once it is visible every row staged up to it is committed:
 * copies of (lo, hi] in separate connections read one consistent set of rows.
 */
export async function maxSeq(pool: pg.Pool, job: ReconcileJob): Promise<bigint> {
  return maxSeqOf(pool, job.tenant, job.entity, job.config.systems);
}

/** The newest staged_seq of a tenant × entity on its CRM and ERP systems (0 when none), in the tenant's scope. */
export async function maxSeqOf(
  pool: pg.Pool | pg.ClientBase,
  tenant: string,
  entity: Entity,
  systems: { crm: string; erp: string },
): Promise<bigint> {
  // One backward index step per system on the partial index (tenant_id, system, staged_seq)
  // WHERE staged_seq > 0 (migration 0009), which a query may use only when it says staged_seq > 0.
  const newest = (n: number) =>
    `(SELECT max(staged_seq) FROM staging.${quoteIdent(entity)}
       WHERE tenant_id = $1 AND system = $${n} AND staged_seq > 0)`;
  const query = (q: pg.ClientBase) =>
    q.query<{ hi: string | null }>(`SELECT greatest(${newest(2)}, ${newest(3)})::text AS hi`, [
      tenant,
      systems.crm,
      systems.erp,
    ]);
  // A client is the caller's transaction, already in the scope.
  const { rows } = pool instanceof pg.Pool ? await withTenantScope(pool, tenant, query) : await query(pool);
  return rows[0]?.hi ? BigInt(rows[0].hi) : 0n;
}

/**
 * Which staging database this is — the cluster's system identifier (when the role may read it:
 * pg_control_system() is for superusers and pg_monitor by default), the database's name and oid —
 * and the Postgres major version. A database restored from a dump, or another database or
 * cluster, differs in one of them.
 */
export async function stagingIdentity(
  pool: pg.Pool,
): Promise<{ system: string | null; db: string; oid: string; pgMajor: number }> {
  const { rows } = await pool.query<{ db: string; oid: string; can: boolean; v: string }>(
    `SELECT current_database() AS db, d.oid::text AS oid, current_setting('server_version_num') AS v,
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
  return { system, db: r?.db ?? '', oid: r?.oid ?? '', pgMajor: Math.floor(Number(r?.v ?? 0) / 10_000) };
}

/**
 * Postgres SELECT (COPY layout) of the records of a tenant × entity staged in (lo, hi] on its CRM
 * and ERP systems: side, source id and the values of `fields` (its direct keys) as text. What an
 * entity that refers to this one needs to find the references whose links changed
 * (match/reference-scope.ts).
 */
export function stagedLinksSql(
  tenant: string,
  entity: Entity,
  systems: { crm: string; erp: string },
  fields: readonly string[],
  range: { lo: bigint; hi: bigint },
): string {
  return `SELECT CASE WHEN system = ${quoteLiteral(systems.crm)} THEN 'crm' ELSE 'erp' END, source_id${fields
    .map((f) => `, ${quoteIdent(f)}::text`)
    .join('')}
    FROM staging.${quoteIdent(entity)}
    WHERE tenant_id = ${quoteLiteral(assertTenantId(tenant))}
      AND system IN (${quoteLiteral(systems.crm)}, ${quoteLiteral(systems.erp)})
      AND staged_seq > ${range.lo.toString()} AND staged_seq <= ${range.hi.toString()}`;
}

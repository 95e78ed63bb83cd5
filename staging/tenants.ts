// Tenants known to the staging database and the database roles scoped to them (RLS).
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { Db } from './database.js';
import { quoteIdent } from './identifiers.js';

export async function upsertTenants(
  db: Db,
  tenants: readonly { id: string; displayName?: string; configHash?: string }[],
): Promise<void> {
  if (!tenants.length) return;
  await db
    .insertInto('control.tenants')
    .values(
      tenants.map((t) => ({
        tenant_id: t.id,
        display_name: t.displayName ?? null,
        config_hash: t.configHash ?? null,
      })),
    )
    .onConflict((oc) =>
      oc.column('tenant_id').doUpdateSet((eb) => ({
        display_name: eb.ref('excluded.display_name'),
        config_hash: eb.ref('excluded.config_hash'),
        updated_at: new Date(),
      })),
    )
    .execute();
}

export async function listTenants(db: Db): Promise<{ id: string; displayName: string | null }[]> {
  const rows = await db
    .selectFrom('control.tenants')
    .select(['tenant_id', 'display_name'])
    .orderBy('tenant_id')
    .execute();
  return rows.map((r) => ({ id: r.tenant_id, displayName: r.display_name }));
}

/**
 * Scopes a database role to one tenant: with row-level security the role then reads and writes
 * only that tenant's staging and control rows. The role must exist (created by an administrator,
 * or by `createTenantRole`).
 */
export async function grantTenantScope(pool: pg.Pool, role: string, tenant: string): Promise<void> {
  await pool.query(
    'INSERT INTO control.tenant_roles (role_name, tenant_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
    [role, tenant],
  );
  await grantScopePrivileges(pool, role);
}

/**
 * The table privileges of a scoped role (row-level security decides which rows). Granted on the
 * tables that exist now: `migrate` grants them again to every scoped role after applying new
 * migrations, so a table added by an upgrade is readable by existing roles too.
 */
export async function grantScopePrivileges(db: pg.Pool | pg.ClientBase, role: string): Promise<void> {
  const r = quoteIdent(role);
  await db.query(`GRANT USAGE ON SCHEMA staging, control TO ${r};
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA staging TO ${r};
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA control TO ${r};
    REVOKE ALL ON control.tenant_roles FROM ${r};
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA staging, control TO ${r}`);
}

/**
 * Creates a login role scoped to one tenant (for workers, BI tools, or tests). The password
 * never reaches the server in clear text: Postgres writes DDL to its log (a failed statement,
 * or every one with log_statement), and trueup forwards the embedded cluster's log to its own.
 * The role gets the SCRAM-SHA-256 verifier that Postgres itself would have stored.
 */
export async function createTenantRole(
  pool: pg.Pool,
  role: string,
  password: string,
  tenant: string,
): Promise<void> {
  const exists = await pool.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  if (!exists.rowCount) {
    // CREATE ROLE takes no parameters: the verifier goes through format() with %L on the server.
    const { rows } = await pool.query<{ stmt: string }>(
      `SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', $1::text, $2::text) AS stmt`,
      [role, scramVerifier(password)],
    );
    await pool.query(rows[0]!.stmt);
  }
  await grantTenantScope(pool, role, tenant);
}

/** The SCRAM-SHA-256 verifier of a password (RFC 5802/7677, as Postgres stores it). */
export function scramVerifier(password: string, iterations = 4096): string {
  const salt = randomBytes(16);
  // Postgres SASLprep-normalises the password; NFKC is the part of it that changes real passwords.
  const salted = pbkdf2Sync(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

// The tenant scope Postgres enforces (migration 0013, docs/security.md): inside a transaction,
// `SET LOCAL ROLE trueup_tenant` and the GUC `trueup.tenant`, so the FORCE'd row-level security
// policies admit only that tenant's rows, whatever filter a query forgets. Every tenant-scoped
// unit of work (the write path, checkpoints, a reconcile job's reads and COPY) runs in one.
// Cross-tenant commands (migrations, --all-tenants, overview reports) stay on the owner role.
import { sql } from 'kysely';
import type pg from 'pg';
import type { Db } from './database.js';

export const TENANT_ROLE = 'trueup_tenant';

/**
 * For tests only: called right after a transaction entered a tenant scope, with the client, so a
 * test can run a query with its tenant filter deliberately left out and see what the scope lets through.
 */
export const tenantScopeTestHooks: { afterEnter?: (client: pg.ClientBase, tenant: string) => Promise<void> } =
  {};

// Per database (host, port, name): whether migration 0013 is applied there. Before it is (a database
// not yet migrated that far, e.g. while `migrate` itself runs), a scope only sets the GUC.
const enforcedByDatabase = new Map<string, Promise<boolean>>();

function databaseKey(client: pg.ClientBase): string {
  const c = client as unknown as { host?: string; port?: number; database?: string };
  return `${c.host ?? ''}:${c.port ?? ''}/${c.database ?? ''}`;
}

/** Whether this database enforces tenant scopes (migration 0013 applied). */
export function scopeEnforced(client: pg.ClientBase): Promise<boolean> {
  const key = databaseKey(client);
  let known = enforcedByDatabase.get(key);
  if (!known) {
    known = client
      .query<{ ok: boolean }>(
        `SELECT to_regprocedure('control.save_scoped_checkpoint(text,text,jsonb,bigint)') IS NOT NULL AS ok`,
      )
      .then((r) => r.rows[0]?.ok === true);
    // A failed probe is not remembered: the next scope asks again.
    known.catch(() => enforcedByDatabase.delete(key));
    enforcedByDatabase.set(key, known);
  }
  return known;
}

/** Forgets what scopeEnforced learnt (after a migration in the same process). */
export function forgetScopeEnforcement(): void {
  enforcedByDatabase.clear();
  enforcedByDb = new WeakMap();
}

let enforcedByDb = new WeakMap<Db, Promise<boolean>>();

function scopeEnforcedDb(db: Db): Promise<boolean> {
  let known = enforcedByDb.get(db);
  if (!known) {
    known = sql<{
      ok: boolean;
    }>`SELECT to_regprocedure('control.save_scoped_checkpoint(text,text,jsonb,bigint)') IS NOT NULL AS ok`
      .execute(db)
      .then((r) => r.rows[0]?.ok === true);
    known.catch(() => enforcedByDb.delete(db));
    enforcedByDb.set(db, known);
  }
  return known;
}

/**
 * `withTenantScope` for a caller that holds kysely rather than a pool: one kysely transaction under
 * `tenant`'s scope; `fn` gets the transaction (every query on it runs in the scope).
 */
export async function withTenantScopeDb<T>(db: Db, tenant: string, fn: (trx: Db) => Promise<T>): Promise<T> {
  if (!tenant) throw new Error('a tenant scope needs a tenant id');
  const enforced = await scopeEnforcedDb(db);
  return db.transaction().execute(async (trx) => {
    if (enforced)
      await sql`SELECT set_config('trueup.tenant', ${tenant}, true), set_config('role', ${TENANT_ROLE}, true)`.execute(
        trx,
      );
    else await sql`SELECT set_config('trueup.tenant', ${tenant}, true)`.execute(trx);
    const hook = tenantScopeTestHooks.afterEnter;
    if (hook)
      await hook(
        {
          query: async (text: string) => {
            const r = await sql.raw<Record<string, unknown>>(text).execute(trx);
            return { rows: r.rows, rowCount: Number(r.numAffectedRows ?? r.rows.length) };
          },
        } as unknown as pg.ClientBase,
        tenant,
      );
    return fn(trx);
  });
}

/**
 * Enters `tenant`'s scope in the transaction `client` holds (until its COMMIT or ROLLBACK). The
 * tenant id is a parameter, never SQL text (the write path stores any tenant id as given; the
 * config admits only TENANT_ID_PATTERN). Entering again (same or another tenant) is allowed.
 */
export async function enterTenantScope(client: pg.ClientBase, tenant: string): Promise<void> {
  if (!tenant) throw new Error('a tenant scope needs a tenant id');
  if (await scopeEnforced(client))
    await client.query(`SELECT set_config('trueup.tenant', $1, true), set_config('role', $2, true)`, [
      tenant,
      TENANT_ROLE,
    ]);
  else await client.query(`SELECT set_config('trueup.tenant', $1, true)`, [tenant]);
  await tenantScopeTestHooks.afterEnter?.(client, tenant);
}

/** Runs `fn` in one transaction under `tenant`'s scope: BEGIN, COMMIT, or ROLLBACK on any error. */
export async function withTenantScope<T>(
  pool: pg.Pool,
  tenant: string,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  if (!tenant) throw new Error('a tenant scope needs a tenant id');
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await enterTenantScope(client, tenant);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((e: Error) => {
      broken = e;
    });
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * Saves a checkpoint from inside a tenant scope: the scope's role cannot write control.checkpoints,
 * so this goes through control.save_scoped_checkpoint, which writes for the scope's tenant only.
 */
export async function saveScopedCheckpoint(
  client: pg.ClientBase,
  cp: { system: string; stream: string; position: unknown; rows?: number },
): Promise<void> {
  await client.query('SELECT control.save_scoped_checkpoint($1, $2, $3::jsonb, $4)', [
    cp.system,
    cp.stream,
    JSON.stringify(cp.position),
    cp.rows ?? 0,
  ]);
}

/** Records a stream's state from inside a tenant scope (control.set_scoped_stream_state, own tenant only). */
export async function setScopedStreamState(
  db: Db,
  key: { system: string; stream: string },
  state: string,
  detail: string | null,
): Promise<void> {
  await sql`SELECT control.set_scoped_stream_state(${key.system}, ${key.stream}, ${state}, ${detail})`.execute(
    db,
  );
}

/** Whether the scope's checkpoint functions exist (migration 0013) — for a caller holding kysely. */
export { scopeEnforcedDb };

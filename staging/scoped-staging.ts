// A staging handle of one tenant: every transaction on it runs in the tenant's scope (tenant-scope.ts),
// so a command or a step that works for one tenant (actions, discrepancies, xref, dlq, apply, a
// run's bookkeeping) gets Postgres' enforcement without threading a scope through each query. The
// pool it wraps is shared: a client enters the scope after its BEGIN (`SET LOCAL`, so the scope ends
// with the transaction and the client goes back to the pool clean); a statement sent outside a
// transaction gets one of its own (BEGIN, scope, statement, COMMIT).
import { Kysely, PostgresDialect, type PostgresPool } from 'kysely';
import type pg from 'pg';
import type { Database, Staging } from './database.js';
import { enterTenantScope, withTenantScope } from './tenant-scope.js';

const BEGINS = /^\s*(BEGIN|START\s+TRANSACTION)\b/i;
const ENDS = /^\s*(COMMIT|END|ABORT|ROLLBACK(?!\s+TO\b))\b/i;

type QueryArgs = [unknown, unknown?, unknown?];

/** The SQL text of a query call, or undefined for a streaming query (a COPY stream, a cursor). */
function textOf(q: unknown): string | undefined {
  if (typeof q === 'string') return q;
  if (q && typeof q === 'object' && !('submit' in q) && typeof (q as { text?: unknown }).text === 'string')
    return (q as { text: string }).text;
  return undefined;
}

function scopedClient<C extends pg.ClientBase>(client: C, tenant: string): C {
  let inTransaction = false;
  const query = (...args: QueryArgs): unknown => {
    const run = () => (client.query as (...a: unknown[]) => Promise<unknown>).apply(client, args);
    const text = textOf(args[0]);
    // A stream (COPY, cursor) is returned as it is, synchronously: callers pipe into it.
    if (text === undefined) return run();
    return scoped(text, run);
  };
  const scoped = async (text: string, run: () => Promise<unknown>): Promise<unknown> => {
    if (BEGINS.test(text)) {
      const r = await run();
      inTransaction = true;
      await enterTenantScope(client, tenant);
      return r;
    }
    if (ENDS.test(text)) {
      inTransaction = false;
      return run();
    }
    if (inTransaction) return run();
    await client.query('BEGIN');
    try {
      await enterTenantScope(client, tenant);
      const r = await run();
      await client.query('COMMIT');
      return r;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  };
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'query') return query;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** `pool`, with every transaction (and every statement outside one) in `tenant`'s scope. */
export function tenantScopedPool(pool: pg.Pool, tenant: string): pg.Pool {
  if (!tenant) throw new Error('a tenant scope needs a tenant id');
  return new Proxy(pool, {
    get(target, prop) {
      if (prop === 'query')
        return (...args: QueryArgs) =>
          withTenantScope(target, tenant, (c) =>
            (c.query as (...a: unknown[]) => Promise<unknown>).apply(c, args),
          );
      if (prop === 'connect') return async () => scopedClient(await target.connect(), tenant);
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * The staging handle of one tenant over `staging`'s pool. Closing it closes nothing (the pool is
 * `staging`'s). Cross-tenant work (migrations, --all-tenants, overview reports) keeps `staging`.
 */
export function tenantStaging(staging: Staging, tenant: string): Staging {
  const pool = tenantScopedPool(staging.pool, tenant);
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: pool as unknown as PostgresPool }),
  });
  return { pool, db, close: async () => {} };
}

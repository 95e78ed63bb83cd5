// The staging database handle: a pg pool for the bulk write path (COPY needs a raw client) and
// a kysely instance over the same pool for typed queries. Created once per process and passed down.
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { ActionTable } from './tables/action.table.js';
import type { AuditTable } from './tables/audit.table.js';
import type { CheckpointTable } from './tables/checkpoint.table.js';
import type { DeadLetterTable } from './tables/dead-letter.table.js';
import type { DiscrepancyTable } from './tables/discrepancy.table.js';
import type { StagedEntityTable } from './tables/entity.table.js';
import type { RunTable } from './tables/run.table.js';
import type { TenantRoleTable, TenantTable } from './tables/tenant.table.js';
import type { XrefTable } from './tables/xref.table.js';

export interface Database {
  'staging.customer': StagedEntityTable;
  'staging.product': StagedEntityTable;
  'staging.order': StagedEntityTable;
  'staging.invoice': StagedEntityTable;
  'staging.payment': StagedEntityTable;
  'staging.subscription': StagedEntityTable;
  'control.tenants': TenantTable;
  'control.tenant_roles': TenantRoleTable;
  'control.checkpoints': CheckpointTable;
  'control.dead_letters': DeadLetterTable;
  'control.xref': XrefTable;
  'control.runs': RunTable;
  'control.discrepancies': DiscrepancyTable;
  'control.actions': ActionTable;
  'control.audit': AuditTable;
}

export type Db = Kysely<Database>;

export interface Staging {
  readonly pool: pg.Pool;
  readonly db: Db;
  close(): Promise<void>;
}

// int8 and numeric stay strings (exact); dates stay 'YYYY-MM-DD' strings rather than local-midnight Dates.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 1082) return (v: string) => v;
    return pg.types.getTypeParser(oid, format);
  },
};

export function openStaging(url: string, opts: { max?: number; applicationName?: string } = {}): Staging {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'trueup',
    types: types as pg.CustomTypesConfig,
  });
  guardPool(pool);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  let closed = false;
  return {
    pool,
    db,
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}

/**
 * A connection that breaks (staging restart, failover, `pg_terminate_backend`) emits 'error' on its
 * client; with no listener that kills the process. pg-pool listens only while a client is idle,
 * so a client checked out (a CDC group transaction, `inTransaction`, a mirror's COPY) is guarded
 * here for its whole life: the failed query reports the error, and the pool discards the client.
 */
export function guardPool(pool: pg.Pool): pg.Pool {
  pool.on('error', () => {}); // an idle client's loss: the next checkout connects afresh
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  return pool;
}

/** Runs `fn` in one transaction on one client: BEGIN, COMMIT, or ROLLBACK on any error. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((e: Error) => {
      broken = e;
    });
    throw err;
  } finally {
    // A client whose ROLLBACK failed is discarded rather than returned to the pool.
    client.release(broken);
  }
}

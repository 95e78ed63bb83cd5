// A Postgres source database holding one system's generated customers (a `customers` table on the
// test cluster, read by CDC like any source), the config that maps it, and a per-row count of
// writes (a trigger installed after the load): "written exactly once" is read from it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll } from 'vitest';
import type { GeneratedRecord } from '../../pipeline/generator/ground-truth.js';
import { packageRoot } from '../../staging/package-root.js';
import { serverUrl, type TestDatabase, useTestDatabase } from '../support/database.js';
import { createSourceDatabase, type SourceDb } from '../support/postgres.js';

export const COLUMNS = ['name', 'email', 'phone', 'currency', 'payment_terms', 'credit_limit'] as const;

export interface CustomerSource {
  db: SourceDb;
  /** Deletes the records the generator marks deleted (after a first sync: CDC stages tombstones). */
  deleteMarked(): Promise<void>;
  /** Writes per row id since the load. */
  writes(): Promise<Map<string, number>>;
  rowCount(): Promise<number>;
  row(id: string): Promise<Record<string, unknown> | undefined>;
}

export async function customerSource(
  records: readonly GeneratedRecord[],
  o: { ref: 'crm_ref' | 'erp_ref'; updatedAt: boolean; fields?: readonly string[] },
): Promise<CustomerSource> {
  const db = await createSourceDatabase(serverUrl());
  const fields = o.fields ?? COLUMNS;
  await db.pool.query(`
    CREATE SEQUENCE customers_new;
    CREATE TABLE customers (
      id text PRIMARY KEY DEFAULT ('N-' || nextval('customers_new')),
      ref text, name text, email text, phone text, currency text, payment_terms text, credit_limit numeric,
      web text, tax text${o.updatedAt ? ', updated_at timestamptz NOT NULL DEFAULT now()' : ''});
    CREATE TABLE write_counts (id text PRIMARY KEY, n int NOT NULL);`);
  for (const r of records) {
    const cols = ['id', 'ref', ...fields, ...(o.updatedAt ? ['updated_at'] : [])];
    const values = [
      r.sourceId,
      r.fields[o.ref] ?? null,
      ...fields.map((f) => (r.fields[f] == null ? null : String(r.fields[f]))),
      ...(o.updatedAt ? [r.updatedAt] : []),
    ];
    await db.pool.query(
      `INSERT INTO customers (${cols.join(', ')}) VALUES (${cols.map((_c, i) => `$${i + 1}`).join(', ')})`,
      values,
    );
  }
  await db.pool.query(`
    CREATE FUNCTION count_write() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO write_counts VALUES (NEW.id, 1) ON CONFLICT (id) DO UPDATE SET n = write_counts.n + 1;
      RETURN NEW;
    END $$;
    CREATE TRIGGER counted AFTER INSERT OR UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION count_write();`);
  return {
    db,
    async deleteMarked() {
      const ids = records.filter((r) => r.deleted).map((r) => r.sourceId);
      await db.pool.query('ALTER TABLE customers DISABLE TRIGGER counted');
      await db.pool.query('DELETE FROM customers WHERE id = ANY($1::text[])', [ids]);
      await db.pool.query('ALTER TABLE customers ENABLE TRIGGER counted');
    },
    async writes() {
      const { rows } = await db.pool.query<{ id: string; n: number }>('SELECT id, n FROM write_counts');
      return new Map(rows.map((r) => [r.id, r.n]));
    },
    async rowCount() {
      const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM customers');
      return rows[0]!.n;
    },
    async row(id) {
      const { rows } = await db.pool.query('SELECT * FROM customers WHERE id = $1', [id]);
      return rows[0];
    },
  };
}

/** The `postgres` system config of a customer source (its URL from the environment variable `urlVar`). */
export function postgresSystem(
  role: 'crm' | 'erp',
  urlVar: string,
  o: { updatedAt: boolean; fields?: Record<string, unknown> },
): Record<string, unknown> {
  const ref = role === 'crm' ? 'erp_ref' : 'crm_ref';
  return {
    kind: 'postgres',
    role,
    connection: `\${env:${urlVar}}`,
    stream: {
      maxGroupDelayMs: 20,
      backoffMinMs: 50,
      backoffMaxMs: 500,
      heartbeatSeconds: 0.2,
      claimRetryMs: 100,
    },
    tables: [
      {
        table: 'customers',
        entity: 'customer',
        key: ['id'],
        fields: o.fields ?? { [ref]: 'ref', ...Object.fromEntries(COLUMNS.map((c) => [c, c])) },
        ...(o.updatedAt ? { updatedAt: 'updated_at' } : {}),
      },
    ],
  };
}

/**
 * The test file's staging database. Until migration 0012 (control.apply_log) is released as a
 * numbered file (it waits for 0011), its pending SQL is applied to the test database here.
 */
export function useApplyDatabase(prefix: string): TestDatabase {
  const db = useTestDatabase(prefix);
  beforeAll(async () => {
    const dir = join(packageRoot(), 'sql/migrations');
    const pending = join(dir, '0012_apply_log.sql.pending');
    if (!existsSync(join(dir, '0012_apply_log.sql')) && existsSync(pending))
      await db.staging.pool.query(readFileSync(pending, 'utf8'));
  });
  return db;
}

// Postgres sources as real ones keep their values (issue 12): amounts in micros mapped with
// `/ 1000000.0` stage every row (snapshot and stream), a naive `modified` (ERPNext keeps it in
// the site's zone) is read in the system's timezone and decides most_recent the right way, and a
// soft-deleted row first seen in the snapshot is a tombstone that keeps its values, so the
// invoice cancelled in the ERP and open in the CRM is deleted_in_one, not missing_in_erp.
import { afterAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../pipeline/config/load-config.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { stageUnit } from '../../../staging/stage.js';
import { dataDir, reconcile, removeDataDirs } from '../../reconcilers/helpers.js';
import { useTestDatabase } from '../../support/database.js';
import { quietLogger, systemConfig, useSourceDatabase } from '../../support/postgres.js';

const t = useTestDatabase('pgvalues');
const src = useSourceDatabase();
afterAll(async () => {
  await removeDataDirs();
});

const deps = () => ({ staging: t.staging, logger: quietLogger() });
const pgSystem = (slot: string, extra: Record<string, unknown>) =>
  systemConfig(src.url, { slot, publication: slot, ...extra });

function tenantConfig(tenant: string, entities: Record<string, unknown>) {
  return validateConfig(
    {
      tenants: {
        [tenant]: {
          systems: {
            crm: { kind: 'csv', role: 'crm', dropDir: '/tmp/trueup-pgvalues/crm' },
            erp: { kind: 'csv', role: 'erp', dropDir: '/tmp/trueup-pgvalues/erp' },
          },
          entities,
        },
      },
    },
    'test',
    {},
  ).tenants[tenant]!;
}

describe('postgres source values', () => {
  it('amounts in micros mapped with / 1000000.0 stage every row, snapshot and stream', async () => {
    await src.pool.query(`CREATE TABLE company (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text,
      "creditLimitAmountMicros" bigint, "creditLimitCurrencyCode" text)`);
    await src.pool.query(`INSERT INTO company (name, "creditLimitAmountMicros", "creditLimitCurrencyCode")
      SELECT 'Firm ' || i, (i * 1000000 + 7)::bigint * 1000, 'eur' FROM generate_series(1, 300) AS i`);
    const cfg = pgSystem('micros', {
      tables: [
        {
          table: 'company',
          entity: 'customer',
          key: ['id'],
          fields: {
            name: 'name',
            credit_limit: { sql: '"creditLimitAmountMicros" / 1000000.0' },
            currency: 'creditLimitCurrencyCode',
          },
        },
      ],
    });
    const first = await syncSystem(deps(), 'micro', 'crm', cfg, { once: true });
    expect(first.status, first.error).toBe('completed');
    // CDC reports through the runner: what the snapshot staged, no dead letters.
    expect(first.entities).toEqual([
      expect.objectContaining({ entity: 'customer', staged: 300, deadLetters: 0, openDeadLetters: 0 }),
    ]);
    await src.pool.query(`UPDATE company SET "creditLimitAmountMicros" = 1001000000 WHERE name = 'Firm 1'`);
    const second = await syncSystem(deps(), 'micro', 'crm', cfg, { once: true });
    expect(second.entities).toEqual([
      expect.objectContaining({ entity: 'customer', staged: 1, deadLetters: 0 }),
    ]);
    const res = await t.staging.pool.query(
      `SELECT count(*)::int AS n, min(credit_limit)::text AS low, min(currency) AS cur
         FROM staging.customer WHERE tenant_id = 'micro' AND deleted_at IS NULL`,
    );
    expect(res.rows[0]).toEqual({ n: 300, low: '1001', cur: 'EUR' });
    const other = await t.staging.pool.query(
      `SELECT credit_limit::text AS v FROM staging.customer WHERE tenant_id = 'micro' AND name = 'Firm 2'`,
    );
    expect(other.rows[0]!.v).toBe('2000.007');
    const dead = await t.staging.pool.query(
      `SELECT count(*)::int AS n FROM control.dead_letters WHERE tenant_id = 'micro'`,
    );
    expect(dead.rows[0]!.n).toBe(0);
  });

  it('a naive modified in Europe/Berlin decides most_recent the right way', async () => {
    await src.pool.query(`CREATE TABLE "tabCustomer" (name text PRIMARY KEY, customer_name text,
      account_manager text, modified timestamp without time zone, crm_id text)`);
    // 12:30 in Berlin (summer) is 10:30 UTC: older than the CRM's 11:00 UTC change.
    await src.pool.query(
      `INSERT INTO "tabCustomer" VALUES ('CUST-0001', 'Acme', 'bob', '2025-07-01 12:30:00', 'c1')`,
    );
    const cfg = pgSystem('erpnext_time', {
      timezone: 'Europe/Berlin',
      tables: [
        {
          table: 'tabCustomer',
          entity: 'customer',
          key: ['name'],
          fields: { name: 'customer_name', owner: 'account_manager', crm_ref: 'crm_id' },
          updatedAt: 'modified',
        },
      ],
    });
    expect(cfg.tables[0]!.timezone).toBe('Europe/Berlin');
    const r = await syncSystem(deps(), 'berlin', 'erp', cfg, { once: true });
    expect(r.status, r.error).toBe('completed');
    const staged = await t.staging.pool.query(
      `SELECT source_updated_at FROM staging.customer WHERE tenant_id = 'berlin' AND system = 'erp'`,
    );
    expect(staged.rows[0]!.source_updated_at).toEqual(new Date('2025-07-01T10:30:00Z'));
    await stageUnit(t.staging.pool, {
      tenant: 'berlin',
      system: 'crm',
      batches: [
        {
          entity: 'customer',
          changes: [
            {
              sourceId: 'c1',
              version: 1n,
              op: 'upsert',
              fields: { name: 'Acme', owner: 'ann' },
              sourceUpdatedAt: '2025-07-01T11:00:00Z',
            },
          ],
        },
      ],
    });
    const cfgT = tenantConfig('berlin', { customer: { survivorship: { owner: { rule: 'most_recent' } } } });
    const s = await reconcile(t, await dataDir(), 'berlin', cfgT, { entities: ['customer'] });
    expect(s.errors).toEqual([]);
    const actions = await t.staging.pool.query(
      `SELECT target_system, target_id, fields FROM control.actions WHERE tenant_id = 'berlin'`,
    );
    // The CRM changed last: its owner wins and the ERP gets the correction (read as UTC, the
    // ERP's 12:30 would have looked newer and overwritten the CRM).
    expect(actions.rows).toEqual([
      { target_system: 'erp', target_id: 'CUST-0001', fields: { owner: 'ann' } },
    ]);
  });

  it('a soft-deleted row first seen in the snapshot keeps its values: deleted_in_one', async () => {
    await src.pool.query(`CREATE TABLE "tabSales Invoice" (name text PRIMARY KEY, customer text,
      grand_total numeric(18, 6), currency text, docstatus int, crm_id text, modified timestamp)`);
    await src.pool.query(`INSERT INTO "tabSales Invoice" VALUES
      ('SINV-1', 'CUST-0001', 119.000000, 'EUR', 1, 'inv-1', '2025-07-01 09:00:00'),
      ('SINV-2', 'CUST-0001', 238.000000, 'EUR', 2, 'inv-2', '2025-07-01 09:00:00')`);
    const cfg = pgSystem('erpnext_cancel', {
      timezone: 'Europe/Berlin',
      tables: [
        {
          table: 'tabSales Invoice',
          entity: 'invoice',
          key: ['name'],
          fields: { customer_ref: 'customer', total: 'grand_total', currency: 'currency', crm_ref: 'crm_id' },
          softDelete: 'docstatus = 2',
          updatedAt: 'modified',
        },
      ],
    });
    const r = await syncSystem(deps(), 'cancel', 'erp', cfg, { once: true });
    expect(r.status, r.error).toBe('completed');
    expect(r.entities).toEqual([expect.objectContaining({ entity: 'invoice', staged: 1, tombstones: 1 })]);
    const staged = await t.staging.pool.query(
      `SELECT source_id, crm_ref, customer_ref, total::text, currency, deleted_at IS NOT NULL AS deleted, source_updated_at
         FROM staging.invoice WHERE tenant_id = 'cancel' ORDER BY source_id`,
    );
    expect(staged.rows[1]).toEqual({
      source_id: 'SINV-2',
      crm_ref: 'inv-2',
      customer_ref: 'CUST-0001',
      total: '238',
      currency: 'EUR',
      deleted: true,
      source_updated_at: new Date('2025-07-01T07:00:00Z'),
    });
    await stageUnit(t.staging.pool, {
      tenant: 'cancel',
      system: 'crm',
      batches: [
        {
          entity: 'invoice',
          changes: ['inv-1', 'inv-2'].map((id, i) => ({
            sourceId: id,
            version: 1n,
            op: 'upsert' as const,
            fields: { total: i ? '238' : '119', currency: 'EUR' },
          })),
        },
      ],
    });
    const cfgT = tenantConfig('cancel', { invoice: { ignoreFields: ['customer_ref'] } });
    const s = await reconcile(t, await dataDir(), 'cancel', cfgT, { entities: ['invoice'] });
    expect(s.errors).toEqual([]);
    const found = await t.staging.pool.query(
      `SELECT class, crm_id, erp_id FROM control.discrepancies WHERE tenant_id = 'cancel' AND status = 'open'`,
    );
    expect(found.rows).toEqual([{ class: 'deleted_in_one', crm_id: 'inv-2', erp_id: 'SINV-2' }]);
  });

  it('the loaded config gives each table the system timezone unless it names its own', () => {
    const cfg = validateConfig(
      {
        tenants: {
          z: {
            systems: {
              erp: {
                kind: 'postgres',
                role: 'erp',
                connection: '${env:SRC}',
                timezone: 'Europe/Berlin',
                tables: [
                  { table: 'a', entity: 'customer', key: ['id'], fields: {} },
                  { table: 'b', entity: 'invoice', key: ['id'], fields: {}, timezone: 'UTC' },
                ],
              },
            },
          },
        },
      },
      'test',
      { SRC: 'postgres://u@h/db' },
    );
    const tables = (cfg.tenants.z!.systems.erp as unknown as { tables: { timezone: string }[] }).tables;
    expect(tables.map((x) => x.timezone)).toEqual(['Europe/Berlin', 'UTC']);
  });
});

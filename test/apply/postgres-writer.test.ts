// The Postgres writer and the refusals: an action that would set an SQL-expression field or a
// field the target does not map is refused, in the dry-run and with --yes (failed, with a message
// naming tenant, system, entity and field, and a dead letter); the writer's compare-and-set leaves a
// changed row untouched; the replication origin's position says whether a batch committed.
import { afterAll, expect, it } from 'vitest';
import type { ConnectorWriter } from '../../pipeline/connectors/contract.js';
import { openWriter } from '../../pipeline/connectors/open-writer.js';
import type { GeneratedRecord } from '../../pipeline/generator/ground-truth.js';
import { actionCounts, logger, openWorld, type World } from './apply-world.js';
import { type CustomerSource, customerSource, postgresSystem, useApplyDatabase } from './customer-source.js';

const db = useApplyDatabase('apply_pgw');
const T = 'apply_refuse';
let crm: CustomerSource;
let erp: CustomerSource;
let world: World;
afterAll(async () => {
  await world?.close();
  await crm?.db.drop();
  await erp?.db.drop();
});

const rec = (sourceId: string, fields: Record<string, unknown>): GeneratedRecord => ({
  sourceId,
  version: 1n,
  fields,
  updatedAt: '2024-01-01T00:00:00Z',
});

it('expression and unmapped fields are refused, naming tenant, system, entity and field', async () => {
  crm = await customerSource(
    [
      rec('C-1', { erp_ref: 'E-1', name: 'Acme', phone: '1' }),
      rec('C-2', { erp_ref: 'E-2', name: 'Globex', phone: '2' }),
    ],
    { ref: 'erp_ref', updatedAt: false, fields: ['name', 'phone'] },
  );
  erp = await customerSource(
    [
      rec('E-1', { crm_ref: 'C-1', name: 'Acme', phone: '1' }),
      rec('E-2', { crm_ref: 'C-2', name: 'Globex Old', phone: '2' }),
    ],
    { ref: 'crm_ref', updatedAt: false, fields: ['name', 'phone'] },
  );
  await crm.db.pool.query(`UPDATE customers SET web = 'ACME.example'`);
  await erp.db.pool.query(`UPDATE customers SET web = 'www.acme.example', tax = 'DE-1' WHERE id = 'E-1'`);
  await erp.db.pool.query(`UPDATE customers SET web = 'acme.example' WHERE id = 'E-2'`);
  world = await openWorld({
    db,
    tenant: T,
    systems: {
      crm: postgresSystem('crm', 'CRM_URL', {
        updatedAt: false,
        fields: { erp_ref: 'ref', name: 'name', phone: 'phone', website: { sql: 'lower(web)' } },
      }),
      erp: postgresSystem('erp', 'ERP_URL', {
        updatedAt: false,
        fields: { crm_ref: 'ref', name: 'name', phone: 'phone', website: 'web', tax_id: 'tax' },
      }),
    },
    env: { CRM_URL: crm.db.url, ERP_URL: erp.db.url },
    tenantExtra: {
      entities: {
        customer: { match: { keys: [] }, survivorship: { website: { rule: 'owner', owner: 'erp' } } },
      },
    },
  });
  await world.sync();
  await world.reconcile();
  expect(await world.approveAll()).toHaveLength(2);

  const scope = `tenant ${T}, system crm, entity customer: `;
  const website = 'field website is an SQL expression in the mapping of public.customers (read-only)';
  const tax = `field tax_id is not mapped to a column of public.customers`;
  const dry = await world.cli(['actions', 'apply', '--tenant', T]);
  expect(dry.code, dry.err).toBe(0);
  expect(dry.out).toContain(scope);
  expect(dry.out).toContain(website);
  expect(dry.out).toMatch(/website +acme\.example +www\.acme\.example/);
  expect(dry.out).toContain(tax);
  expect(dry.out).toMatch(/1 would be applied, 0 skipped as stale, 1 refused/);

  const run = await world.cli(['actions', 'apply', '--tenant', T, '--yes', '--by', 'bob']);
  expect(run.code, run.out).toBe(1);
  expect(await actionCounts(db, T)).toEqual({ applied: 1, failed: 1 });
  const failed = await db.staging.pool.query(
    `SELECT error, target_id FROM control.actions WHERE tenant_id = $1 AND status = 'failed'`,
    [T],
  );
  expect(failed.rows[0].target_id).toBe('C-1');
  expect(failed.rows[0].error).toContain(scope);
  expect(failed.rows[0].error).toContain(website);
  expect(failed.rows[0].error).toContain(tax);
  const dl = await db.staging.pool.query(
    `SELECT system, entity, source_id, error_kind, error_message FROM control.dead_letters WHERE tenant_id = $1`,
    [T],
  );
  expect(dl.rows).toEqual([
    expect.objectContaining({
      system: 'crm',
      entity: 'customer',
      source_id: 'C-1',
      error_kind: 'write_rejected',
    }),
  ]);
  expect(dl.rows[0].error_message).toContain(website);
  expect((await crm.row('C-1'))?.web).toBe('ACME.example');
  expect((await erp.row('E-2'))?.name).toBe('Globex');
});

it('compare-and-set: a row that differs from what reconciliation saw is not written; the origin says what committed', async () => {
  const writer: ConnectorWriter = openWriter(
    { staging: db.staging, logger },
    T,
    'erp',
    world.config.systems.erp,
    { entities: world.config.entities },
  );
  try {
    const stale = await writer.upsert(
      'customer',
      [
        {
          key: 'C-1',
          targetId: 'E-1',
          fields: { phone: '9' },
          expected: { fields: { phone: '7' }, sourceUpdatedAt: null },
        },
      ],
      { batch: 1000n },
    );
    expect(stale[0]).toMatchObject({ ok: false, error: { code: 'STALE' } });
    expect(stale[0]!.error!.message).toMatch(/phone changed since reconciliation; not written/);
    expect((await erp.row('E-1'))?.phone).toBe('1');
    const ok = await writer.upsert(
      'customer',
      [
        {
          key: 'C-1',
          targetId: 'E-1',
          fields: { phone: '9' },
          expected: { fields: { phone: '1' }, sourceUpdatedAt: null },
        },
      ],
      { batch: 1001n },
    );
    expect(ok[0]).toMatchObject({ ok: true, id: 'E-1', created: false });
    expect((await erp.row('E-1'))?.phone).toBe('9');
    expect(await writer.committed!(1001n)).toBe('yes');
    expect(await writer.committed!(1002n)).toBe('no');
    expect(await writer.committed!(999n)).toBe('unknown');
    const now = await writer.read!('customer', [
      { key: 'C-1', targetId: 'E-1' },
      { key: 'C-404', targetId: null },
    ]);
    expect(now[0]).toMatchObject({ found: true, id: 'E-1', fields: { phone: '9', crm_ref: 'C-1' } });
    expect(now[1]).toMatchObject({ found: false });
  } finally {
    await writer.close();
  }
});

// Failures at the vendor: a record Salesforce refuses (REQUIRED_FIELD_MISSING) fails alone with
// Salesforce's error and a dead letter; a write call that keeps failing after the client's
// retries fails its action with the vendor's error once the target confirms nothing landed; and
// when the target cannot even be asked, the attempt stays logged, the action stays approved, and
// the next apply asks again and writes it — once.
import { afterAll, expect, it } from 'vitest';
import { tenantWriters } from '../../pipeline/apply/apply-after-run.js';
import type { ApplyHooks } from '../../pipeline/apply/apply-types.js';
import { applyActions } from '../../pipeline/apply/run-apply.js';
import { SalesforceSandbox } from '../../pipeline/connectors/salesforce/sandbox.js';
import type { GeneratedRecord } from '../../pipeline/generator/ground-truth.js';
import { LOOP_FIELDS, logger, openWorld, type World } from './apply-world.js';
import { type CustomerSource, customerSource, postgresSystem, useApplyDatabase } from './customer-source.js';
import { SALESFORCE_OVERRIDES, salesforceAccounts } from './sandbox-seeds.js';

const db = useApplyDatabase('apply_fail');
const T = 'apply_fail';
let sf: SalesforceSandbox;
let erp: CustomerSource;
let world: World;
afterAll(async () => {
  await world?.close();
  await sf?.close();
  await erp?.db.drop();
});

const rec = (sourceId: string, fields: Record<string, unknown>): GeneratedRecord => ({
  sourceId,
  version: 1n,
  fields: { currency: 'USD', phone: '1', ...fields },
  updatedAt: '2024-01-01T00:00:00Z',
});

async function action(where: string): Promise<string> {
  const { rows } = await db.staging.pool.query(
    `SELECT id::text FROM control.actions WHERE tenant_id = $1 AND ${where}`,
    [T],
  );
  expect(rows).toHaveLength(1);
  return rows[0].id;
}

async function status(id: string): Promise<{ status: string; error: string | null }> {
  const { rows } = await db.staging.pool.query(
    `SELECT status, error FROM control.actions WHERE tenant_id = $1 AND id = $2`,
    [T, id],
  );
  return rows[0];
}

it('vendor errors fail the action with a dead letter; an unanswerable target is asked again later', async () => {
  sf = new SalesforceSandbox({
    seed: salesforceAccounts([
      rec('C-2', { erp_ref: 'E-2', name: 'Two', credit_limit: '10' }),
      rec('C-3', { erp_ref: 'E-3', name: 'Three', credit_limit: '10' }),
    ]),
    tokens: ['sf-token'],
  });
  await sf.listen();
  erp = await customerSource(
    [
      rec('E-1', { name: null }),
      rec('E-2', { crm_ref: 'C-2', name: 'Two', credit_limit: '20' }),
      rec('E-3', { crm_ref: 'C-3', name: 'Three', credit_limit: '30' }),
    ],
    { ref: 'crm_ref', updatedAt: true, fields: LOOP_FIELDS },
  );
  world = await openWorld({
    db,
    tenant: T,
    systems: {
      crm: {
        kind: 'salesforce',
        role: 'crm',
        baseUrl: sf.url,
        accessToken: '${env:SF_TOKEN}',
        objects: { Account: 'customer' },
        limits: {
          requestsPerSecond: 10_000,
          concurrency: 2,
          maxRetries: 2,
          minBackoffMs: 1,
          maxBackoffMs: 5,
        },
        bulk: { pollMinMs: 5, pollMaxMs: 20, lagSeconds: 0 },
      },
      erp: postgresSystem('erp', 'ERP_URL', {
        updatedAt: true,
        fields: { crm_ref: 'ref', ...Object.fromEntries(LOOP_FIELDS.map((f) => [f, f])) },
      }),
    },
    env: { SF_TOKEN: 'sf-token', ERP_URL: erp.db.url },
    tenantExtra: {
      entities: { customer: { match: { keys: [] }, mapping: { crm: SALESFORCE_OVERRIDES } } },
      actions: { createMissing: true },
    },
  });
  await world.sync();
  await world.reconcile();
  expect(await world.approveAll()).toHaveLength(3);
  const create = await action(`kind = 'create'`);
  const two = await action(`target_id = 'C-2'`);
  const three = await action(`target_id = 'C-3'`);
  const apply = (ids: string[] | undefined, hooks?: ApplyHooks) =>
    applyActions({
      staging: db.staging,
      tenant: T,
      config: world.config,
      by: 'bob',
      write: true,
      ...(ids ? { ids } : {}),
      batchSize: 1,
      logger,
      openWriter: tenantWriters({ staging: db.staging, logger }, T, world.config),
      ...(hooks ? { hooks } : {}),
    });

  // The create lacks Name: Salesforce refuses that record. The upsert's call gets 503s past the
  // client's retries; the record, read afterwards, shows nothing landed.
  expect((await apply([create])).counts).toEqual({ failed: 1 });
  const first = await apply([two], {
    beforeWrite: () => sf.server.setFaults({ serverErrorRate: 1 }),
    afterWrite: () => sf.server.setFaults({}),
  });
  expect(first.counts).toEqual({ failed: 1 });
  expect((await status(create)).error).toMatch(/Required fields are missing: \[Name\]/);
  expect((await status(two)).error).toMatch(/503|unavailable/i);
  const dl = await db.staging.pool.query(
    `SELECT source_id, error_kind, error_message FROM control.dead_letters WHERE tenant_id = $1 ORDER BY source_id`,
    [T],
  );
  expect(dl.rows.map((r) => [r.source_id, r.error_kind])).toEqual([
    ['C-2', 'write_rejected'],
    ['E-1', 'write_rejected'],
  ]);
  expect(dl.rows[1].error_message).toMatch(/REQUIRED_FIELD_MISSING: Required fields are missing: \[Name\]/);
  const fails = await db.staging.pool.query(
    `SELECT count(*)::int AS n FROM control.audit WHERE tenant_id = $1 AND action = 'action.fail'`,
    [T],
  );
  expect(fails.rows[0].n).toBe(2);

  // Salesforce down for the write and for the question after it: nothing is decided.
  const down = await apply([three], { beforeWrite: () => sf.server.setFaults({ serverErrorRate: 1 }) });
  expect(down.errors).toHaveLength(1);
  expect((await status(three)).status).toBe('approved');
  sf.server.setFaults({});
  const pending = await db.staging.pool.query(
    `SELECT count(*)::int AS n FROM control.apply_log WHERE tenant_id = $1 AND state = 'writing'`,
    [T],
  );
  expect(pending.rows[0].n).toBe(1);

  // Back up: the next apply asks, learns nothing landed, writes it once.
  const again = await apply(undefined);
  expect(again.recovered).toEqual([expect.objectContaining({ actionId: three, resolution: 'retry' })]);
  expect((await status(three)).status).toBe('applied');
  expect(sf.store.apiWrites.get('C-3')).toBe(1);
  expect(sf.get('Account', 'C-3')?.Credit_Limit__c).toBe('30');
});

// The write-back loop against each vendor sandbox, the other side a Postgres source: Salesforce
// (CRM) ↔ Postgres, HubSpot (CRM) ↔ Postgres, Postgres (CRM) ↔ NetSuite (ERP). A generated tenant
// → reconcile → approve all → dry-run (no sandbox write, no row) → apply --yes → sync →
// reconcile: the corrected records are equal, every record written once (the sandboxes count
// writes per record), and three more cycles propose nothing (CRM owns name and phone, ERP owns
// currency and credit limit). In the HubSpot loop one target changes after the reconcile: its
// action is skipped_stale and the company untouched.
import { afterAll, expect, it } from 'vitest';
import { HubspotSandbox } from '../../pipeline/connectors/hubspot/hubspot-sandbox.js';
import { NetsuiteSandbox } from '../../pipeline/connectors/netsuite/netsuite-sandbox.js';
import { SalesforceSandbox } from '../../pipeline/connectors/salesforce/sandbox.js';
import {
  actionCounts,
  appliedKeys,
  customers,
  LOOP_FIELDS,
  openActionable,
  openWorld,
  type World,
} from './apply-world.js';
import { type CustomerSource, customerSource, postgresSystem, useApplyDatabase } from './customer-source.js';
import {
  HUBSPOT_OVERRIDES,
  hubspotCompanies,
  netsuiteCustomers,
  SALESFORCE_OVERRIDES,
  salesforceAccounts,
} from './sandbox-seeds.js';

const db = useApplyDatabase('apply_sb');
const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
});

const LIMITS = {
  requestsPerSecond: 10_000,
  concurrency: 4,
  maxRetries: 5,
  timeoutMs: 10_000,
  minBackoffMs: 1,
  maxBackoffMs: 10,
};
const pgFields = (role: 'crm' | 'erp') => ({
  [role === 'crm' ? 'erp_ref' : 'crm_ref']: 'ref',
  ...Object.fromEntries(LOOP_FIELDS.map((f) => [f, f])),
});
const entityConfig = (crmOverrides?: unknown) => ({
  customer: { match: { keys: [] }, ...(crmOverrides ? { mapping: { crm: crmOverrides } } : {}) },
});

/** The loop after the first sync; `written` gives the sandbox's writes per record and the source's. */
async function loop(
  w: World,
  pg: CustomerSource,
  sandboxWrites: () => Map<string, number>,
  beforeApply?: () => Promise<string[]>,
): Promise<void> {
  await w.reconcile();
  const approved = await w.approveAll();
  expect(approved.length).toBeGreaterThan(3);
  const rows = await pg.rowCount();
  const dry = await w.cli(['actions', 'apply', '--tenant', w.tenant]);
  expect(dry.code, dry.err).toBe(0);
  expect(dry.out).toMatch(/nothing was written/);
  expect(sandboxWrites().size).toBe(0);
  expect((await pg.writes()).size).toBe(0);
  expect(await pg.rowCount()).toBe(rows);
  const stale = (await beforeApply?.()) ?? [];

  const run = await w.cli(['actions', 'apply', '--tenant', w.tenant, '--yes', '--by', 'bob']);
  expect(run.code, `${run.out}\n${run.err}`).toBe(0);
  const counts = await actionCounts(db, w.tenant);
  expect(counts.failed ?? 0, run.out).toBe(0);
  expect(counts.skipped_stale ?? 0, run.out).toBe(stale.length);
  expect(counts.applied).toBe(approved.length - stale.length);
  const sandbox = [...sandboxWrites().values()];
  const source = [...(await pg.writes()).values()];
  expect([...sandbox, ...source].every((n) => n === 1)).toBe(true);
  expect(sandbox.length + source.length).toBe(counts.applied);
  expect(sandbox.length).toBeGreaterThan(0);

  // Salesforce's extractor reads up to the last whole second (SystemModstamp < to): a write made
  // in the current second is the next sync's. Let the clock pass it, as any later sync would.
  await new Promise((r) => setTimeout(r, 1005 - (Date.now() % 1000)));
  await w.sync();
  await w.reconcile();
  expect(await openActionable(db, w.tenant, await appliedKeys(db, w.tenant))).toEqual([]);
  const settled = await actionCounts(db, w.tenant);
  for (let cycle = 1; cycle <= 3; cycle++) {
    await w.sync();
    await w.reconcile();
    expect(await actionCounts(db, w.tenant), `cycle ${cycle} proposed something new`).toEqual(settled);
  }
}

it('salesforce: composite upsert by external id, the loop settles', async () => {
  const data = customers({ seed: 21, count: 60, fields: LOOP_FIELDS, linkAll: true });
  const sf = new SalesforceSandbox({ seed: salesforceAccounts(data.crm), tokens: ['sf-token'] });
  await sf.listen();
  cleanup.push(() => sf.close());
  const erp = await customerSource(data.erp, { ref: 'crm_ref', updatedAt: true, fields: LOOP_FIELDS });
  cleanup.push(() => erp.db.drop());
  const w = await openWorld({
    db,
    tenant: 'loop_sf',
    systems: {
      crm: {
        kind: 'salesforce',
        role: 'crm',
        baseUrl: sf.url,
        accessToken: '${env:SF_TOKEN}',
        objects: { Account: 'customer' },
        limits: LIMITS,
        bulk: { pollMinMs: 5, pollMaxMs: 20, lagSeconds: 0 },
      },
      erp: postgresSystem('erp', 'ERP_URL', { updatedAt: true, fields: pgFields('erp') }),
    },
    env: { SF_TOKEN: 'sf-token', ERP_URL: erp.db.url },
    tenantExtra: { entities: entityConfig(SALESFORCE_OVERRIDES), actions: { createMissing: true } },
  });
  cleanup.push(() => w.close());
  await w.sync();
  await erp.deleteMarked();
  await w.sync();
  await loop(w, erp, () => sf.store.apiWrites);
});

it('hubspot: batch upsert by erp_id, a company changed meanwhile is skipped_stale and untouched', async () => {
  const data = customers({
    seed: 22,
    count: 60,
    fields: LOOP_FIELDS,
    linkAll: true,
    crmId: (id) => String(100_000 + Number(/\d+$/.exec(id)![0])),
  });
  const hs = new HubspotSandbox({ records: hubspotCompanies(data.crm), record: true });
  const hsUrl = await hs.listen();
  cleanup.push(() => hs.close());
  const erp = await customerSource(data.erp, { ref: 'crm_ref', updatedAt: true, fields: LOOP_FIELDS });
  cleanup.push(() => erp.db.drop());
  const w = await openWorld({
    db,
    tenant: 'loop_hs',
    systems: {
      crm: {
        kind: 'hubspot',
        role: 'crm',
        baseUrl: hsUrl,
        accessToken: '${env:HS_TOKEN}',
        objects: ['companies'],
        limits: LIMITS,
      },
      erp: postgresSystem('erp', 'ERP_URL', { updatedAt: true, fields: pgFields('erp') }),
    },
    env: { HS_TOKEN: 'hs-token', ERP_URL: erp.db.url },
    tenantExtra: { entities: entityConfig(HUBSPOT_OVERRIDES), actions: { createMissing: true } },
  });
  cleanup.push(() => w.close());
  await w.sync();
  await erp.deleteMarked();
  await w.sync();
  let changed = '';
  await loop(
    w,
    erp,
    () => hs.apiWrites,
    async () => {
      const { rows } = await db.staging.pool.query(
        `SELECT id::text, target_id FROM control.actions WHERE tenant_id = 'loop_hs' AND status = 'approved'
          AND kind = 'upsert' AND target_system = 'crm' ORDER BY id LIMIT 1`,
      );
      changed = rows[0].target_id;
      hs.update('companies', changed, { phone: 'changed in HubSpot' });
      return [rows[0].id];
    },
  );
  expect(hs.apiWrites.has(changed)).toBe(false);
  // Each written input carried its action's idempotency key as objectWriteTraceId.
  const traces = hs.server.exchanges
    .filter((x) => x.path.endsWith('/batch/upsert'))
    .flatMap((x) =>
      (x.body as { inputs: { objectWriteTraceId: string }[] }).inputs.map((i) => i.objectWriteTraceId),
    );
  const keys = await db.staging.pool.query(
    `SELECT idempotency_key FROM control.actions WHERE tenant_id = 'loop_hs' AND status = 'applied' AND target_system = 'crm'`,
  );
  expect(traces.sort()).toEqual(keys.rows.map((r) => r.idempotency_key).sort());
  expect(hs.table('companies').get(changed)!.properties.phone).toBe('changed in HubSpot');
  const { rows } = await db.staging.pool.query(
    `SELECT error FROM control.actions WHERE tenant_id = 'loop_hs' AND status = 'skipped_stale'`,
  );
  expect(rows[0].error).toMatch(/changed in crm at .* after the version reconciliation saw/);
});

it('netsuite: record upsert by eid, the loop settles', async () => {
  const erpId = (id: string) => {
    const n = Number(/(\d+)(-dup)?$/.exec(id)![1]);
    return String((id.endsWith('-dup') ? 5000 : 1000) + n);
  };
  const data = customers({ seed: 23, count: 60, fields: LOOP_FIELDS, linkAll: true, erpId });
  const ns = new NetsuiteSandbox({ tables: netsuiteCustomers(data.erp), tokens: ['ns-token'] });
  const nsUrl = await ns.listen();
  cleanup.push(() => ns.close());
  const crm = await customerSource(data.crm, { ref: 'erp_ref', updatedAt: false, fields: LOOP_FIELDS });
  cleanup.push(() => crm.db.drop());
  const w = await openWorld({
    db,
    tenant: 'loop_ns',
    systems: {
      crm: postgresSystem('crm', 'CRM_URL', { updatedAt: false, fields: pgFields('crm') }),
      erp: {
        kind: 'netsuite',
        role: 'erp',
        baseUrl: nsUrl,
        accessToken: '${env:NS_TOKEN}',
        streams: ['customer'],
        limits: LIMITS,
      },
    },
    env: { NS_TOKEN: 'ns-token', CRM_URL: crm.db.url },
    tenantExtra: { entities: entityConfig(), actions: { createMissing: true } },
  });
  cleanup.push(() => w.close());
  await w.sync();
  await crm.deleteMarked();
  await w.sync();
  await loop(w, crm, () => ns.apiWrites);
});

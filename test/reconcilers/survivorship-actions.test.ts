// Survivorship end to end: for hand-made pairs, each rule (owner both ways, most_complete,
// most_recent, max, report_only) picks the expected winner, and the proposed actions set exactly
// the losing fields with their explanation — after a full run and again after an incremental run
// over the same records (the comparison reads only the values it needs, so this also checks that
// nothing survivorship reads is missing). A discrepancy a reviewer accepted gets no correction.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { validateConfig } from '../../pipeline/config/load-config.js';
import type { TenantConfig } from '../../pipeline/config/schema.js';
import { stageUnit } from '../../staging/stage.js';
import { useTestDatabase } from '../support/database.js';
import { csvTenantConfig, dataDir, reconcile, removeDataDirs, stageRows } from './helpers.js';

const tenant = 'surv';
const db = useTestDatabase('recon_surv');
let cfg: TenantConfig;

beforeAll(async () => {
  cfg = validateConfig(
    {
      tenants: {
        [tenant]: {
          systems: {
            crm: { kind: 'csv', role: 'crm', dropDir: '/tmp/trueup-surv/crm' },
            erp: { kind: 'csv', role: 'erp', dropDir: '/tmp/trueup-surv/erp' },
          },
          entities: {
            customer: {
              // Not compared, but counted by most_complete.
              ignoreFields: ['company', 'tax_id'],
              survivorship: {
                phone: { rule: 'most_complete' },
                owner: { rule: 'most_recent' },
                website: { rule: 'max' },
                legal_name: { rule: 'report_only' },
              },
            },
          },
        },
      },
    },
    'test',
    {},
  ).tenants[tenant]!;
});
afterAll(async () => {
  await removeDataDirs();
});

const base = {
  name: 'Same',
  legal_name: 'Same Ltd',
  email: null,
  currency: 'USD',
  credit_limit: '100',
  owner: 'ann',
  website: 'same.example',
};

interface Rec {
  id: string;
  fields: Record<string, unknown>;
  at: string;
}

/** Pairs linked by erp_ref/crm_ref; the CRM record first. */
const pairs: [Rec, Rec][] = [
  // owner: name belongs to the CRM, credit_limit to the ERP
  [
    { id: 'c1', fields: { name: 'Acme' }, at: '2025-01-01T00:00:00Z' },
    { id: 'e1', fields: { name: 'Acme Holding', credit_limit: '250' }, at: '2025-01-01T00:00:00Z' },
  ],
  // most_complete: the CRM record fills more fields (ignored ones count too)
  [
    { id: 'c2', fields: { phone: '111', company: 'Acme Group', tax_id: 'DE1' }, at: '2025-01-01T00:00:00Z' },
    { id: 'e2', fields: { phone: '222' }, at: '2025-01-01T00:00:00Z' },
  ],
  // most_complete: one side empty
  [
    { id: 'c3', fields: { phone: null }, at: '2025-01-01T00:00:00Z' },
    { id: 'e3', fields: { phone: '333' }, at: '2025-01-01T00:00:00Z' },
  ],
  // most_recent: the ERP changed later
  [
    { id: 'c4', fields: { owner: 'bob' }, at: '2025-01-01T00:00:00Z' },
    { id: 'e4', fields: { owner: 'cid' }, at: '2025-02-01T00:00:00Z' },
  ],
  // max, and a report_only difference (no action for it)
  [
    { id: 'c5', fields: { website: 'a.example', legal_name: 'One' }, at: '2025-01-01T00:00:00Z' },
    { id: 'e5', fields: { website: 'b.example', legal_name: 'Two' }, at: '2025-01-01T00:00:00Z' },
  ],
];

/** Equal pairs, staged once: the incremental run's scope stays under half of the mirror. */
const clean: [Rec, Rec][] = Array.from({ length: 12 }, (_, i) => [
  { id: `cc${i}`, fields: {}, at: '2025-01-01T00:00:00Z' },
  { id: `ee${i}`, fields: {}, at: '2025-01-01T00:00:00Z' },
]);

async function stage(side: 'crm' | 'erp', version: bigint) {
  const changes = (version === 1n ? [...pairs, ...clean] : pairs).map(([c, e]) => {
    const r = side === 'crm' ? c : e;
    const ref = side === 'crm' ? { erp_ref: e.id } : { crm_ref: c.id };
    return {
      sourceId: r.id,
      version,
      op: 'upsert' as const,
      fields: { ...base, ...ref, ...r.fields },
      sourceUpdatedAt: r.at,
    };
  });
  await stageUnit(db.staging.pool, { tenant, system: side, batches: [{ entity: 'customer', changes }] });
}

async function proposed() {
  const { rows } = await db.staging.pool.query<{
    target_system: string;
    target_id: string;
    fields: Record<string, unknown>;
    explanation: { fields: { field: string; rule: string; winner: string; crm: unknown; erp: unknown }[] };
  }>(
    `SELECT target_system, target_id, fields, explanation FROM control.actions
      WHERE tenant_id = $1 AND status = 'proposed' ORDER BY target_id`,
    [tenant],
  );
  return rows.map((r) => ({
    target: `${r.target_system}:${r.target_id}`,
    fields: r.fields,
    why: r.explanation.fields.map((f) => `${f.field} ${f.rule} ${f.winner} ${f.crm}|${f.erp}`),
  }));
}

const expected = [
  {
    target: 'crm:c1',
    fields: { credit_limit: '250' },
    why: ['credit_limit owner erp 100|250'],
  },
  { target: 'crm:c3', fields: { phone: '333' }, why: ['phone most_complete erp null|333'] },
  { target: 'crm:c4', fields: { owner: 'cid' }, why: ['owner most_recent erp bob|cid'] },
  { target: 'crm:c5', fields: { website: 'b.example' }, why: ['website max erp a.example|b.example'] },
  { target: 'erp:e1', fields: { name: 'Acme' }, why: ['name owner crm Acme|Acme Holding'] },
  { target: 'erp:e2', fields: { phone: '111' }, why: ['phone most_complete crm 111|222'] },
];

it('picks the winner of each rule and proposes exactly the losing fields, full and incremental', async () => {
  await stage('crm', 1n);
  await stage('erp', 1n);
  const dir = await dataDir();
  const full = await reconcile(db, dir, tenant, cfg, { entities: ['customer'] });
  expect(full.errors).toEqual([]);
  expect(full.countsByClass).toEqual({ field_mismatch: 7 });
  expect(await proposed()).toEqual(expected);

  // New versions of every record with the same values: an incremental run re-examines them all
  // and proposes the same corrections (for the newly observed versions).
  await stage('crm', 2n);
  await stage('erp', 2n);
  const inc = await reconcile(db, dir, tenant, cfg, { entities: ['customer'] });
  expect(inc.errors).toEqual([]);
  expect(inc.entities[0]!.mode).toBe('incremental');
  expect(inc.countsByClass).toEqual({ field_mismatch: 7 });
  expect(await proposed()).toEqual(expected);
});

it('accepting a discrepancy withdraws its pending correction (and only that field of it)', async () => {
  const t = 'acc';
  const dir = await dataDir();
  const accCfg = csvTenantConfig(t, { actions: { policy: 'auto_approve' } });
  await stageRows(db, t, 'crm', 'customer', [
    { id: 'C1', erp_ref: 'E1', credit_limit: '5000' },
    { id: 'C2', erp_ref: 'E2', credit_limit: '5000', billing_city: 'Berlin' },
  ]);
  await stageRows(db, t, 'erp', 'customer', [
    { id: 'E1', credit_limit: '9000' },
    { id: 'E2', credit_limit: '9000', billing_city: 'Bonn' },
  ]);
  await reconcile(db, dir, t, accCfg, { entities: ['customer'] });
  const live = async () =>
    (
      await db.staging.pool.query<{ target: string; fields: Record<string, unknown>; status: string }>(
        `SELECT target_system || ':' || target_id AS target, fields, status FROM control.actions
          WHERE tenant_id = $1 AND status IN ('proposed', 'approved') ORDER BY 1`,
        [t],
      )
    ).rows;
  expect(await live()).toEqual([
    { target: 'crm:C1', fields: { credit_limit: '9000' }, status: 'approved' },
    { target: 'crm:C2', fields: { credit_limit: '9000' }, status: 'approved' },
    { target: 'erp:E2', fields: { billing_city: 'Berlin' }, status: 'approved' },
  ]);
  // Finance agrees to the credit limits ("legacy limit"); the billing city is still to be fixed.
  await db.staging.pool.query(
    `UPDATE control.discrepancies SET status = 'accepted', accepted_by = 'alice', accepted_reason = 'legacy limit'
      WHERE tenant_id = $1 AND field = 'credit_limit'`,
    [t],
  );
  const s = await reconcile(db, dir, t, accCfg, { entities: ['customer'], mode: 'full' });
  expect(s.errors).toEqual([]);
  expect(s.totals).toMatchObject({ discrepancies: 3, accepted: 2 });
  expect(await live()).toEqual([
    { target: 'erp:E2', fields: { billing_city: 'Berlin' }, status: 'approved' },
  ]);
  const { rows } = await db.staging.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM control.actions WHERE tenant_id = $1 AND status = 'skipped_stale'`,
    [t],
  );
  expect(rows[0]?.n).toBe(2);
});

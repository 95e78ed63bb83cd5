// Action lifecycle and survivorship edge cases found in review: a correction that a run made
// stale comes back when the difference comes back (same observed version → same idempotency key,
// so it must not stay buried as skipped_stale), while a reviewer's rejection is never undone;
// and a value the tenant treats as null (nullEquivalents) never wins most_complete, max or min
// against a real value.
import { afterAll, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { csvTenantConfig, dataDir, reconcile, removeDataDirs, stageRows } from './helpers.js';

const db = useTestDatabase('recon_revival');

afterAll(async () => {
  await removeDataDirs();
});

async function actions(tenant: string) {
  const { rows } = await db.staging.pool.query<{
    target: string;
    fields: Record<string, unknown>;
    status: string;
  }>(
    `SELECT target_system || ':' || target_id AS target, fields, status FROM control.actions
      WHERE tenant_id = $1 ORDER BY id`,
    [tenant],
  );
  return rows;
}

it('a correction made stale comes back when the difference comes back; a rejected one stays rejected', async () => {
  const t = 'revive';
  const dir = await dataDir();
  const cfg = csvTenantConfig(t);
  const run = async () => {
    const s = await reconcile(db, dir, t, cfg, { entities: ['customer'], mode: 'full' });
    expect(s.errors).toEqual([]);
    return s;
  };
  await stageRows(db, t, 'crm', 'customer', [
    { id: 'C1', erp_ref: 'E1', name: 'Acme' },
    { id: 'C2', erp_ref: 'E2', name: 'Beta' },
  ]);
  await stageRows(db, t, 'erp', 'customer', [
    { id: 'E1', name: 'Acme Holding' },
    { id: 'E2', name: 'Beta Holding' },
  ]);
  await run();
  expect(await actions(t)).toEqual([
    { target: 'erp:E1', fields: { name: 'Acme' }, status: 'proposed' },
    { target: 'erp:E2', fields: { name: 'Beta' }, status: 'proposed' },
  ]);
  // A reviewer rejects the correction of E2.
  await db.staging.pool.query(
    `UPDATE control.actions SET status = 'rejected', decided_by = 'alice', decided_at = now()
      WHERE tenant_id = $1 AND target_id = 'E2'`,
    [t],
  );
  // The CRM briefly holds the ERP's names: nothing to correct, the pending action is stale.
  await stageRows(
    db,
    t,
    'crm',
    'customer',
    [
      { id: 'C1', erp_ref: 'E1', name: 'Acme Holding' },
      { id: 'C2', erp_ref: 'E2', name: 'Beta Holding' },
    ],
    { version: 2n },
  );
  await run();
  expect((await actions(t)).map((a) => `${a.target} ${a.status}`)).toEqual([
    'erp:E1 skipped_stale',
    'erp:E2 rejected',
  ]);
  // The CRM goes back to its names; the ERP records are unchanged (same observed versions).
  await stageRows(
    db,
    t,
    'crm',
    'customer',
    [
      { id: 'C1', erp_ref: 'E1', name: 'Acme' },
      { id: 'C2', erp_ref: 'E2', name: 'Beta' },
    ],
    { version: 3n },
  );
  const s = await run();
  expect(s.totals.discrepancies).toBe(2);
  // The correction of E1 is pending again; the rejection of E2 is never overwritten.
  expect(await actions(t)).toEqual([
    { target: 'erp:E1', fields: { name: 'Acme' }, status: 'proposed' },
    { target: 'erp:E2', fields: { name: 'Beta' }, status: 'rejected' },
  ]);
});

it('a null-equivalent value never wins most_complete, max or min against a real value', async () => {
  const t = 'nulleq';
  const dir = await dataDir();
  const cfg = csvTenantConfig(t, {
    entities: {
      customer: {
        nullEquivalents: ['', '-'],
        survivorship: {
          phone: { rule: 'most_complete' },
          website: { rule: 'min' },
          billing_city: { rule: 'max' },
        },
      },
    },
  });
  // The CRM record fills more fields, but its phone, website and city are "-" (no value).
  await stageRows(db, t, 'crm', 'customer', [
    {
      id: 'C1',
      erp_ref: 'E1',
      name: 'Acme',
      legal_name: 'Acme Ltd',
      email: 'a@acme.example',
      phone: '-',
      website: '-',
      billing_city: '-',
    },
  ]);
  await stageRows(db, t, 'erp', 'customer', [
    { id: 'E1', name: 'Acme', phone: '222', website: 'acme.example', billing_city: '~town' },
  ]);
  const s = await reconcile(db, dir, t, cfg, { entities: ['customer'], mode: 'full' });
  expect(s.errors).toEqual([]);
  const got = await actions(t);
  // Only the CRM is corrected (its email and legal name are the CRM's own: owner rule, ERP loses).
  expect(got.find((a) => a.target === 'crm:C1')?.fields).toEqual({
    website: 'acme.example',
    phone: '222',
    billing_city: '~town',
  });
  for (const a of got.filter((x) => x.target === 'erp:E1'))
    for (const f of ['phone', 'website', 'billing_city']) expect(a.fields).not.toHaveProperty(f);
});

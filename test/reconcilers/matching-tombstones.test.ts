// Matching around tombstones: a deleted record never counts as a second partner and is never a
// duplicate_match itself; it is only reported as deleted_in_one (README, Reconciliation › Classify).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { csvTenantConfig, dataDir, openKeys, reconcile, removeDataDirs, stageRows } from './helpers.js';

const db = useTestDatabase('recon_tomb');
let dir: string;
beforeAll(async () => {
  dir = await dataDir();
});
afterAll(async () => {
  await removeDataDirs();
});

it('an ERP record deleted and re-created (both pointing at the CRM record) is not a duplicate_match', async () => {
  const t = 'recreate';
  await stageRows(db, t, 'crm', 'customer', [{ id: 'C1', name: 'Acme', credit_limit: '100' }]);
  await stageRows(db, t, 'erp', 'customer', [{ id: 'E1', crm_ref: 'C1', name: 'Acme', credit_limit: '100' }]);
  await stageRows(db, t, 'erp', 'customer', [{ id: 'E1' }], { version: 2n, op: 'delete' });
  await stageRows(db, t, 'erp', 'customer', [{ id: 'E2', crm_ref: 'C1', name: 'Acme', credit_limit: '200' }]);
  const s = await reconcile(db, dir, t, csvTenantConfig(t), { entities: ['customer'], mode: 'full' });
  expect(s.errors).toEqual([]);
  // The live pair C1/E2 is compared (credit_limit differs); the tombstone E1 is no second partner.
  expect(await openKeys(db, t)).toEqual(['customer field_mismatch C:C1|E:E2 credit_limit']);
});

it('a deleted CRM record linked to two ERP records is two deleted_in_one, not a duplicate_match', async () => {
  const t = 'deldup';
  await stageRows(db, t, 'crm', 'customer', [{ id: 'C1', name: 'Acme' }]);
  await stageRows(db, t, 'crm', 'customer', [{ id: 'C1' }], { version: 2n, op: 'delete' });
  await stageRows(db, t, 'erp', 'customer', [
    { id: 'E1', crm_ref: 'C1', name: 'Acme' },
    { id: 'E2', crm_ref: 'C1', name: 'Acme' },
  ]);
  const s = await reconcile(db, dir, t, csvTenantConfig(t), { entities: ['customer'], mode: 'full' });
  expect(s.errors).toEqual([]);
  expect(await openKeys(db, t)).toEqual([
    'customer deleted_in_one C:C1|E:E1 ',
    'customer deleted_in_one C:C1|E:E2 ',
  ]);
});

it('only live partners make a duplicate_match; a record with only deleted partners is deleted_in_one', async () => {
  const t = 'mixed';
  // C1: two live partners and a deleted one → duplicate of the live ones. C2: two deleted partners.
  await stageRows(db, t, 'crm', 'customer', [
    { id: 'C1', name: 'Acme' },
    { id: 'C2', name: 'Globex' },
  ]);
  await stageRows(db, t, 'erp', 'customer', [
    { id: 'E1', crm_ref: 'C1', name: 'Acme' },
    { id: 'E2', crm_ref: 'C1', name: 'Acme' },
    { id: 'E3', crm_ref: 'C1', name: 'Acme' },
    { id: 'E4', crm_ref: 'C2', name: 'Globex' },
    { id: 'E5', crm_ref: 'C2', name: 'Globex' },
  ]);
  await stageRows(db, t, 'erp', 'customer', [{ id: 'E3' }, { id: 'E4' }, { id: 'E5' }], {
    version: 2n,
    op: 'delete',
  });
  // Clean pairs, so that an incremental scope stays below half of the mirror.
  const pad = Array.from({ length: 20 }, (_, i) => i);
  await stageRows(
    db,
    t,
    'crm',
    'customer',
    pad.map((i) => ({ id: `P${i}`, erp_ref: `Q${i}`, name: 'Pad' })),
  );
  await stageRows(
    db,
    t,
    'erp',
    'customer',
    pad.map((i) => ({ id: `Q${i}`, name: 'Pad' })),
  );
  const s = await reconcile(db, dir, t, csvTenantConfig(t), { entities: ['customer'], mode: 'full' });
  expect(s.errors).toEqual([]);
  expect(await openKeys(db, t)).toEqual([
    'customer deleted_in_one C:C2|E:E4 ',
    'customer deleted_in_one C:C2|E:E5 ',
    'customer duplicate_match C:C1 ',
  ]);
  const { rows } = await db.staging.pool.query(
    `SELECT detail->'partners' AS partners FROM control.discrepancies WHERE tenant_id = $1 AND class = 'duplicate_match'`,
    [t],
  );
  expect(rows).toEqual([{ partners: ['E1', 'E2'] }]);
  // The same after an incremental run that re-examines the component (E1 changes).
  await stageRows(db, t, 'erp', 'customer', [{ id: 'E1', crm_ref: 'C1', name: 'Acme' }], { version: 3n });
  const inc = await reconcile(db, dir, t, csvTenantConfig(t), { entities: ['customer'] });
  expect(inc.entities[0]?.mode).toBe('incremental');
  expect(await openKeys(db, t)).toEqual([
    'customer deleted_in_one C:C2|E:E4 ',
    'customer deleted_in_one C:C2|E:E5 ',
    'customer duplicate_match C:C1 ',
  ]);
});

// The local copy of control.xref must notice every change of the links. A link inserted by a long
// transaction carries a created_at older than the newest link; if another link is deleted in the
// same window, the count and the newest created_at are both unchanged. An incremental run must
// still see both changes and equal a full run.
import { afterAll, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { csvTenantConfig, dataDir, openKeys, reconcile, removeDataDirs, stageRows } from './helpers.js';

const db = useTestDatabase('recon_xref_stamp');
afterAll(async () => {
  await removeDataDirs();
});

const t = 'xstamp';
// Links only: no direct keys, no business keys.
const cfg = () => csvTenantConfig(t, { entities: { customer: { match: { direct: [], keys: [] } } } });

async function link(crm: string, erp: string, createdAt: string) {
  await db.staging.pool.query(
    `INSERT INTO control.xref (tenant_id, entity, crm_system, crm_id, erp_system, erp_id, origin, created_at)
     VALUES ($1, 'customer', 'crm', $2, 'erp', $3, 'manual', $4)`,
    [t, crm, erp, createdAt],
  );
}

it('an incremental run sees a back-dated link and a deleted link that leave count and newest unchanged', async () => {
  const ids = Array.from({ length: 20 }, (_, i) => i);
  await stageRows(
    db,
    t,
    'crm',
    'customer',
    ids.map((i) => ({ id: `C${i}`, name: `Customer ${i}` })),
  );
  await stageRows(
    db,
    t,
    'erp',
    'customer',
    ids.map((i) => ({ id: `E${i}`, name: `Customer ${i}` })),
  );
  // Every pair linked except C1/E1; C0/E0 is the newest link.
  for (const i of ids) if (i > 1) await link(`C${i}`, `E${i}`, '2024-01-01T00:00:00Z');
  await link('C0', 'E0', '2024-06-01T00:00:00Z');
  const dir = await dataDir();
  expect((await reconcile(db, dir, t, cfg(), { entities: ['customer'] })).errors).toEqual([]);
  expect(await openKeys(db, t)).toEqual(['customer missing_in_crm E:E1 ', 'customer missing_in_erp C:C1 ']);

  // C1/E1 linked with an older created_at (a long transaction), C2/E2 unlinked.
  await link('C1', 'E1', '2024-03-01T00:00:00Z');
  await db.staging.pool.query(`DELETE FROM control.xref WHERE tenant_id = $1 AND crm_id = 'C2'`, [t]);

  const inc = await reconcile(db, dir, t, cfg(), { entities: ['customer'] });
  expect(inc.errors).toEqual([]);
  expect(inc.entities[0]).toMatchObject({ mode: 'incremental' });
  const incremental = await openKeys(db, t);
  const full = await reconcile(db, await dataDir(), t, cfg(), { entities: ['customer'], mode: 'full' });
  expect(full.errors).toEqual([]);
  expect(await openKeys(db, t)).toEqual(['customer missing_in_crm E:E2 ', 'customer missing_in_erp C:C2 ']);
  expect(incremental).toEqual(['customer missing_in_crm E:E2 ', 'customer missing_in_erp C:C2 ']);
});

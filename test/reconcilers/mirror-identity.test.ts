// A mirror belongs to one staging database: built from one, it is not reused against another (a
// new staging URL, or staging restored from a backup, with the same data folder), nor when
// staging is behind the mirror's last staged_seq. Even --full would otherwise trust it.
import { afterAll, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { csvTenantConfig, dataDir, openKeys, reconcile, removeDataDirs, stageRows } from './helpers.js';

const a = useTestDatabase('recon_mia');
const b = useTestDatabase('recon_mib');
afterAll(removeDataDirs);

it('a full run against another staging database reads that database, not the old mirror', async () => {
  const t = 'acme';
  const dir = await dataDir();
  const cfg = csvTenantConfig(t);
  // Database A: a clean pair.
  await stageRows(a, t, 'crm', 'customer', [{ id: 'C1', erp_ref: 'E1', name: 'Acme' }]);
  await stageRows(a, t, 'erp', 'customer', [{ id: 'E1', name: 'Acme' }]);
  await reconcile(a, dir, t, cfg, { entities: ['customer'] });
  expect(await openKeys(a, t)).toEqual([]);
  // Database B (same data folder): the CRM record has no ERP counterpart.
  await stageRows(b, t, 'crm', 'customer', [{ id: 'C1', name: 'Acme' }]);
  const s = await reconcile(b, dir, t, cfg, { entities: ['customer'], mode: 'full' });
  expect(s.errors).toEqual([]);
  expect(s.entities[0]?.mirror.cold).toBe(true);
  expect(await openKeys(b, t)).toEqual(['customer missing_in_erp C:C1 ']);
});

it('a mirror ahead of staging (rows gone, staging restored in place) is rebuilt', async () => {
  const t = 'behind';
  const dir = await dataDir();
  const cfg = csvTenantConfig(t);
  await stageRows(a, t, 'crm', 'customer', [{ id: 'C1', erp_ref: 'E1', name: 'Acme' }]);
  await stageRows(a, t, 'erp', 'customer', [{ id: 'E1', name: 'Acme' }]);
  await reconcile(a, dir, t, cfg, { entities: ['customer'] });
  // The newest staged row disappears (as after restoring an older backup in place); the next
  // write re-uses lower staged_seqs than the mirror has seen.
  await a.staging.pool.query(
    `DELETE FROM staging.customer WHERE tenant_id = $1 AND staged_seq = (SELECT max(staged_seq) FROM staging.customer WHERE tenant_id = $1)`,
    [t],
  );
  const s = await reconcile(a, dir, t, cfg, { entities: ['customer'] });
  expect(s.errors).toEqual([]);
  expect(s.entities[0]?.mirror.cold).toBe(true);
  expect(await openKeys(a, t)).toEqual(['customer missing_in_erp C:C1 ']);
});

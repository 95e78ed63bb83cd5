// most_complete counts the fields a record fills, but not the link fields crm_ref/erp_ref: only
// one side usually holds the link, and counting it would let that side win what is a tie.
import { afterAll, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { csvTenantConfig, dataDir, reconcile, removeDataDirs, stageRows } from './helpers.js';

const db = useTestDatabase('recon_complete');
afterAll(async () => {
  await removeDataDirs();
});

it('a tie on filled fields goes to the owner even when only the other side holds the link', async () => {
  const t = 'complete';
  const cfg = csvTenantConfig(t, {
    entities: {
      customer: {
        match: { direct: [{ side: 'erp', field: 'crm_ref' }], keys: [] },
        survivorship: { phone: { rule: 'most_complete' } },
      },
    },
  });
  // Both fill name and phone; only the ERP record holds the link (crm_ref). phone's owner: CRM.
  await stageRows(db, t, 'crm', 'customer', [{ id: 'C1', name: 'Acme', phone: '111' }]);
  await stageRows(db, t, 'erp', 'customer', [{ id: 'E1', crm_ref: 'C1', name: 'Acme', phone: '222' }]);
  const s = await reconcile(db, await dataDir(), t, cfg, { entities: ['customer'], mode: 'full' });
  expect(s.errors).toEqual([]);
  const { rows } = await db.staging.pool.query<{ target_system: string; fields: unknown }>(
    'SELECT target_system, fields FROM control.actions WHERE tenant_id = $1',
    [t],
  );
  expect(rows).toEqual([{ target_system: 'erp', fields: { phone: '111' } }]);
});

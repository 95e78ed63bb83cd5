// Review: a record whose currency is missing on one side. Its amounts are compared as if in one
// currency (the missing one is not another currency), so the amount fields' differences carry
// their measured impact; the currency discrepancy must not put the whole amount at stake on top
// (the record would count the difference twice: 10 measured + 90 whole).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { csvTenantConfig, dataDir, reconcile, removeDataDirs, stageRows } from './helpers.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('review_materiality');
});
afterAll(async () => {
  await removeDataDirs();
  await db?.drop();
});

it('a currency missing on one side is no second currency: the amount difference counts once', async () => {
  const t = 'matnull';
  const cfg = csvTenantConfig(t, { materiality: { threshold: '50' } });
  await stageRows(db, t, 'crm', 'invoice', [
    { id: 'C1', number: 'N-1', total: '100', erp_ref: 'E1' },
    { id: 'C2', number: 'N-2', total: '70', erp_ref: 'E2' },
  ]);
  await stageRows(db, t, 'erp', 'invoice', [
    { id: 'E1', number: 'N-1', currency: 'USD', total: '90' },
    { id: 'E2', number: 'N-2', currency: 'USD', total: '70' },
  ]);
  const s = await reconcile(db, await dataDir(), t, cfg, { entities: ['invoice'], mode: 'full' });
  expect(s.errors).toEqual([]);
  const { rows } = await db.staging.pool.query(
    `SELECT match_key || ' ' || field AS k, currency, money_impact::text AS impact, material
       FROM control.discrepancies WHERE tenant_id = $1 AND status = 'open' ORDER BY match_key, field`,
    [t],
  );
  expect(rows.map((r) => ({ ...r, impact: r.impact === null ? null : Number(r.impact) }))).toEqual([
    { k: 'C:C1|E:E1 currency', currency: null, impact: null, material: false },
    { k: 'C:C1|E:E1 total', currency: 'USD', impact: 10, material: false },
    { k: 'C:C2|E:E2 currency', currency: null, impact: null, material: false },
  ]);
  expect(s.moneyVariance).toEqual({ USD: '10' });
});

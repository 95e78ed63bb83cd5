// Materiality: the money impact of a money field's difference is measured as its comparator
// measured it — both amounts rounded to the minor unit of the record's currency (USD 2, JPY 0,
// BHD 3 digits) — so a difference reported as one cent, one yen or one fils weighs that much
// against the tenant's threshold; the whole amount of a missing invoice counts in that currency.
import { afterAll, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { csvTenantConfig, dataDir, reconcile, removeDataDirs, stageRows } from './helpers.js';

const db = useTestDatabase('recon_materiality');

afterAll(async () => {
  await removeDataDirs();
});

/** An invoice row for stageRows. */
const inv = (id: string, currency: string, total: string, ref?: Record<string, string>) => ({
  id,
  number: `N-${id.slice(1)}`,
  currency,
  total,
  ...ref,
});

/** The tenant's open discrepancies as `match key field`, currency, impact (a number) and material. */
async function fieldImpacts(t: string) {
  const { rows } = await db.staging.pool.query<{
    k: string;
    currency: string | null;
    impact: string | null;
    material: boolean;
  }>(
    `SELECT match_key || ' ' || field AS k, currency, money_impact::text AS impact, material
       FROM control.discrepancies WHERE tenant_id = $1 AND status = 'open' ORDER BY match_key, field`,
    [t],
  );
  return rows.map((r) => ({ ...r, impact: r.impact === null ? null : Number(r.impact) }));
}

it('money impact is in the minor units of the record currency (USD 2, JPY 0, BHD 3 digits)', async () => {
  const t = 'mat';
  const dir = await dataDir();
  const cfg = csvTenantConfig(t, {
    materiality: { threshold: '0.01', byCurrency: { JPY: '1', BHD: '0.001' } },
  });
  await stageRows(db, t, 'crm', 'invoice', [
    inv('C1', 'USD', '100.005', { erp_ref: 'E1' }),
    inv('C2', 'JPY', '1000.6', { erp_ref: 'E2' }),
    inv('C3', 'BHD', '1.0006', { erp_ref: 'E3' }),
    inv('C4', 'USD', '150', { erp_ref: 'E4' }),
    inv('C5', 'JPY', '1200.4'),
  ]);
  await stageRows(db, t, 'erp', 'invoice', [
    inv('E1', 'USD', '100.00'),
    inv('E2', 'JPY', '1000'),
    inv('E3', 'BHD', '1.000'),
    inv('E4', 'USD', '100'),
  ]);
  const s = await reconcile(db, dir, t, cfg, { entities: ['invoice'], mode: 'full' });
  expect(s.errors).toEqual([]);
  const { rows } = await db.staging.pool.query<{
    k: string;
    currency: string;
    impact: string;
    material: boolean;
  }>(
    `SELECT class || ' ' || match_key AS k, currency, money_impact::text AS impact, material
       FROM control.discrepancies WHERE tenant_id = $1 AND status = 'open' ORDER BY match_key`,
    [t],
  );
  expect(rows.map((r) => ({ ...r, impact: Number(r.impact) }))).toEqual([
    { k: 'field_mismatch C:C1|E:E1', currency: 'USD', impact: 0.01, material: true },
    { k: 'field_mismatch C:C2|E:E2', currency: 'JPY', impact: 1, material: true },
    { k: 'field_mismatch C:C3|E:E3', currency: 'BHD', impact: 0.001, material: true },
    { k: 'field_mismatch C:C4|E:E4', currency: 'USD', impact: 50, material: true },
    { k: 'missing_in_erp C:C5', currency: 'JPY', impact: 1200, material: true },
  ]);
  expect(s.moneyVariance).toEqual({ USD: '50.01', JPY: '1201', BHD: '0.001' });
});

it('a difference across two currencies puts the whole amount at stake, so it can be material', async () => {
  const t = 'matfx';
  const cfg = csvTenantConfig(t, { materiality: { threshold: '500', byCurrency: { JPY: '50000' } } });
  await stageRows(db, t, 'crm', 'invoice', [
    // Same number, another currency: only the currency field differs.
    inv('C1', 'USD', '1000', { erp_ref: 'E1' }),
    // Another currency and another amount: both fields differ.
    inv('C2', 'USD', '90', { erp_ref: 'E2' }),
    inv('C3', 'USD', '100', { erp_ref: 'E3' }),
  ]);
  await stageRows(db, t, 'erp', 'invoice', [
    inv('E1', 'EUR', '1000'),
    inv('E2', 'EUR', '800'),
    inv('E3', 'JPY', '15000'),
  ]);
  const s = await reconcile(db, await dataDir(), t, cfg, { entities: ['invoice'], mode: 'full' });
  expect(s.errors).toEqual([]);
  const rows = await fieldImpacts(t);
  // Counted once per record, on its currency discrepancy; the amounts in two currencies have no
  // measurable difference of their own.
  expect(rows).toEqual([
    { k: 'C:C1|E:E1 currency', currency: 'EUR', impact: 1000, material: true },
    { k: 'C:C2|E:E2 currency', currency: 'EUR', impact: 800, material: true },
    { k: 'C:C2|E:E2 total', currency: 'EUR', impact: null, material: false },
    { k: 'C:C3|E:E3 currency', currency: 'JPY', impact: 15000, material: false },
    { k: 'C:C3|E:E3 total', currency: 'JPY', impact: null, material: false },
  ]);
  expect(s.moneyVariance).toEqual({ EUR: '1800', JPY: '15000' });
});

// A record whose currency is missing on one side. Its amounts are compared as if in one
// currency (the missing one is not another currency), so the amount fields' differences carry
// their measured impact; the currency discrepancy must not put the whole amount at stake on top
// (the record would count the difference twice: 10 measured + 90 whole).
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
  const rows = await fieldImpacts(t);
  expect(rows).toEqual([
    { k: 'C:C1|E:E1 currency', currency: null, impact: null, material: false },
    { k: 'C:C1|E:E1 total', currency: 'USD', impact: 10, material: false },
    { k: 'C:C2|E:E2 currency', currency: null, impact: null, material: false },
  ]);
  expect(s.moneyVariance).toEqual({ USD: '10' });
});

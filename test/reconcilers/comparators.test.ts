// Comparator semantics end to end on hand-made records: NFKC (DuckDB has only NFC; trueup adds
// NFKC through a JavaScript function applied to non-ASCII values only), NFC when configured,
// text business keys normalised with NFKC, identical values equal whatever the value map says,
// and `exact` decimals compared as numbers (as the mirror's content hash does).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { validateConfig } from '../../pipeline/config/load-config.js';
import type { TenantConfig } from '../../pipeline/config/schema.js';
import type { Entity } from '../../staging/model/entities.js';
import { stageUnit } from '../../staging/stage.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { dataDir, keyOf, openDiscrepancies, reconcile, removeDataDirs } from './helpers.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('recon_cmp');
});
afterAll(async () => {
  await removeDataDirs();
  await db?.drop();
});

function tenantConfig(tenant: string, nameUnicode?: 'NFC'): TenantConfig {
  const raw = {
    systems: {
      crm: { kind: 'csv', role: 'crm', dropDir: '/tmp/x/crm' },
      erp: { kind: 'csv', role: 'erp', dropDir: '/tmp/x/erp' },
    },
    entities: {
      customer: {
        compare: {
          payment_terms: { type: 'enum', valueMap: { crm: { 'Net 30': 'net30' } } },
          credit_limit: { type: 'exact' },
          ...(nameUnicode ? { name: { type: 'text', unicode: nameUnicode } } : {}),
        },
      },
      product: { match: { direct: [], keys: [{ field: 'sku', normalise: 'text' }] } },
    },
  };
  return validateConfig({ tenants: { [tenant]: raw } }, 'test', {}).tenants[tenant]!;
}

async function stage(tenant: string, system: string, entity: Entity, rows: Record<string, unknown>[]) {
  await stageUnit(db.staging.pool, {
    tenant,
    system,
    batches: [
      {
        entity,
        changes: rows.map((r) => ({
          sourceId: String(r.id),
          version: 1n,
          op: 'upsert' as const,
          fields: Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'id')),
        })),
      },
    ],
  });
}

async function seed(tenant: string) {
  const common = { currency: 'USD', credit_limit: '100.00', payment_terms: 'Net 30' };
  await stage(tenant, 'crm', 'customer', [
    { id: 'C1', erp_ref: 'E1', name: 'ＡＣＭＥ  Corp', ...common },
    { id: 'C2', erp_ref: 'E2', name: 'Globex', legal_name: 'ﬁnance ltd', ...common },
    { id: 'C3', erp_ref: 'E3', name: 'Acme', ...common, credit_limit: '100.0' },
    { id: 'C4', erp_ref: 'E4', name: 'Initech', ...common, payment_terms: 'Net 30' },
  ]);
  await stage(tenant, 'erp', 'customer', [
    { id: 'E1', name: 'acme corp', ...common },
    { id: 'E2', name: 'Globex', legal_name: 'finance ltd', ...common },
    { id: 'E3', name: 'Acne', ...common },
    { id: 'E4', name: 'Initech', ...common, payment_terms: 'net30' },
  ]);
  await stage(tenant, 'crm', 'product', [{ id: 'P1', sku: 'ＳＫＵ-7', name: 'Widget', currency: 'USD' }]);
  await stage(tenant, 'erp', 'product', [{ id: 'Q1', sku: 'sku-7 ', name: 'Widget', currency: 'USD' }]);
}

it('applies NFKC by default, NFC when configured, and NFKC to text business keys', async () => {
  await seed('nfkc');
  await seed('nfc');
  const dir = await dataDir();
  for (const [tenant, cfg] of [
    ['nfkc', tenantConfig('nfkc')],
    ['nfc', tenantConfig('nfc', 'NFC')],
  ] as const) {
    const s = await reconcile(db, dir, tenant, cfg, { entities: ['customer', 'product'] });
    expect(s.errors).toEqual([]);
  }
  const nfkc = (await openDiscrepancies(db, 'nfkc')).map(keyOf).sort();
  // ＡＣＭＥ = acme and ﬁ = fi under NFKC; 'Net 30' on both sides is equal although only the CRM
  // has a value map; 100.0 = 100.00 for an exact decimal; ＳＫＵ-7 matches sku-7 by the text key.
  expect(nfkc).toEqual(['customer field_mismatch C:C3|E:E3 name']);
  const nfc = (await openDiscrepancies(db, 'nfc')).map(keyOf).sort();
  expect(nfc).toEqual(['customer field_mismatch C:C1|E:E1 name', 'customer field_mismatch C:C3|E:E3 name']);
});

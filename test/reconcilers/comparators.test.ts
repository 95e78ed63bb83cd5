// Comparator semantics end to end on hand-made records: NFKC (DuckDB has only NFC; trueup adds
// NFKC through a JavaScript function applied to non-ASCII values only), NFC when configured,
// text business keys normalised with NFKC, identical values equal whatever the value map says,
// and `exact` decimals compared as numbers (as the mirror's content hash does); whitespace of
// every kind trimmed, case folding beyond lower(), Unicode letters in the name key, money
// rounding per currency, calendar dates at month granularity, CSV-hostile values.
import { afterAll, expect, it } from 'vitest';
import { validateConfig } from '../../pipeline/config/load-config.js';
import type { TenantConfig } from '../../pipeline/config/schema.js';
import { useTestDatabase } from '../support/database.js';
import {
  csvTenantConfig,
  dataDir,
  keyOf,
  openDiscrepancies,
  openKeys,
  reconcile,
  removeDataDirs,
  stageRows,
} from './helpers.js';

const db = useTestDatabase('recon_cmp');
afterAll(async () => {
  await removeDataDirs();
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

async function seed(tenant: string) {
  const common = { currency: 'USD', credit_limit: '100.00', payment_terms: 'Net 30' };
  await stageRows(db, tenant, 'crm', 'customer', [
    { id: 'C1', erp_ref: 'E1', name: 'ＡＣＭＥ  Corp', ...common },
    { id: 'C2', erp_ref: 'E2', name: 'Globex', legal_name: 'ﬁnance ltd', ...common },
    { id: 'C3', erp_ref: 'E3', name: 'Acme', ...common, credit_limit: '100.0' },
    { id: 'C4', erp_ref: 'E4', name: 'Initech', ...common, payment_terms: 'Net 30' },
  ]);
  await stageRows(db, tenant, 'erp', 'customer', [
    { id: 'E1', name: 'acme corp', ...common },
    { id: 'E2', name: 'Globex', legal_name: 'finance ltd', ...common },
    { id: 'E3', name: 'Acne', ...common },
    { id: 'E4', name: 'Initech', ...common, payment_terms: 'net30' },
  ]);
  await stageRows(db, tenant, 'crm', 'product', [
    { id: 'P1', sku: 'ＳＫＵ-7', name: 'Widget', currency: 'USD' },
  ]);
  await stageRows(db, tenant, 'erp', 'product', [
    { id: 'Q1', sku: 'sku-7 ', name: 'Widget', currency: 'USD' },
  ]);
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

it('text comparator and key normalisers trim every kind of whitespace (tab, CR, vertical tab)', async () => {
  const t = 'ws';
  const entities = {
    customer: {
      match: { direct: [{ side: 'crm', field: 'erp_ref' }], keys: [{ field: 'email', normalise: 'email' }] },
    },
    product: { match: { direct: [], keys: [{ field: 'sku', normalise: 'text' }] } },
  };
  await stageRows(db, t, 'crm', 'customer', [
    { id: 'C1', erp_ref: 'E1', name: 'Acme Corp\t' },
    { id: 'C2', erp_ref: 'E2', name: 'Globex\r' },
    { id: 'C3', erp_ref: 'E3', name: '\tInitech' },
    // Matched by the email key only: tabs and CRs around it, and a vertical tab in the name.
    { id: 'C4', email: '\tB@x.io\r', name: 'Hooli\v' },
  ]);
  await stageRows(db, t, 'erp', 'customer', [
    { id: 'E1', name: 'Acme Corp' },
    { id: 'E2', name: 'Globex' },
    { id: 'E3', name: 'Initech' },
    { id: 'E4', email: 'b@x.io', name: 'Hooli' },
  ]);
  await stageRows(db, t, 'crm', 'product', [{ id: 'P1', sku: 'SKU-9\t', name: 'Widget', currency: 'USD' }]);
  await stageRows(db, t, 'erp', 'product', [{ id: 'Q1', sku: '\r\nsku-9', name: 'Widget', currency: 'USD' }]);
  const s = await reconcile(db, await dataDir(), t, csvTenantConfig(t, { entities }), {
    entities: ['customer', 'product'],
  });
  expect(s.errors).toEqual([]);
  expect(await openKeys(db, t)).toEqual([]);
});

it('name key normaliser keeps non-ASCII letters (Müller ≠ Möller; 東京商事 = 東京商事; Straße = STRASSE)', async () => {
  const t = 'nm';
  const entities = { customer: { match: { direct: [], keys: [{ field: 'name', normalise: 'name' }] } } };
  await stageRows(db, t, 'crm', 'customer', [
    { id: 'C1', name: 'Müller GmbH' },
    { id: 'C2', name: '東京商事' },
    { id: 'C3', name: 'Straße AG' },
  ]);
  await stageRows(db, t, 'erp', 'customer', [
    { id: 'E1', name: 'Möller GmbH' },
    { id: 'E2', name: '東京商事' },
    { id: 'E3', name: 'STRASSE AG' },
  ]);
  const s = await reconcile(db, await dataDir(), t, csvTenantConfig(t, { entities }), {
    entities: ['customer'],
  });
  expect(s.errors).toEqual([]);
  expect(await openKeys(db, t)).toEqual(['customer missing_in_crm E:E1 ', 'customer missing_in_erp C:C1 ']);
});

it('money comparator: JPY 0, BHD 3 digits, negatives, half away from zero', async () => {
  const t = 'money';
  const crm = [
    { id: 'C1', erp_ref: 'E1', currency: 'JPY', total: '1000.4' }, // = 1000
    { id: 'C2', erp_ref: 'E2', currency: 'JPY', total: '1000.5' }, // 1001 ≠ 1000
    { id: 'C3', erp_ref: 'E3', currency: 'BHD', total: '1.0004' }, // = 1.000
    { id: 'C4', erp_ref: 'E4', currency: 'BHD', total: '1.0005' }, // 1.001 ≠ 1.000
    { id: 'C5', erp_ref: 'E5', currency: 'USD', total: '-100.005' }, // = -100.01
    { id: 'C6', erp_ref: 'E6', currency: 'USD', total: '-100.004' }, // -100.00 ≠ -100.01
  ];
  const erp = [
    { id: 'E1', currency: 'JPY', total: '1000' },
    { id: 'E2', currency: 'JPY', total: '1000' },
    { id: 'E3', currency: 'BHD', total: '1.000' },
    { id: 'E4', currency: 'BHD', total: '1.000' },
    { id: 'E5', currency: 'USD', total: '-100.01' },
    { id: 'E6', currency: 'USD', total: '-100.01' },
  ];
  await stageRows(db, t, 'crm', 'invoice', crm);
  await stageRows(db, t, 'erp', 'invoice', erp);
  const s = await reconcile(db, await dataDir(), t, csvTenantConfig(t), { entities: ['invoice'] });
  expect(s.errors).toEqual([]);
  expect(await openKeys(db, t)).toEqual([
    'invoice field_mismatch C:C2|E:E2 total',
    'invoice field_mismatch C:C4|E:E4 total',
    'invoice field_mismatch C:C6|E:E6 total',
  ]);
});

it('date comparator: calendar dates in the same month are equal at month granularity in any zone', async () => {
  const t = 'month';
  const entities = {
    order: { compare: { order_date: { type: 'date', granularity: 'month', zone: 'America/New_York' } } },
  };
  await stageRows(db, t, 'crm', 'order', [
    { id: 'C1', erp_ref: 'E1', order_date: '2024-03-01' },
    { id: 'C2', erp_ref: 'E2', order_date: '2024-03-31' },
  ]);
  await stageRows(db, t, 'erp', 'order', [
    { id: 'E1', order_date: '2024-03-15' },
    { id: 'E2', order_date: '2024-04-01' },
  ]);
  const s = await reconcile(db, await dataDir(), t, csvTenantConfig(t, { entities }), {
    entities: ['order'],
  });
  expect(s.errors).toEqual([]);
  // C1/E1 are both in March (equal); C2/E2 are in March and April (a real difference).
  expect(await openKeys(db, t)).toEqual(['order field_mismatch C:C2|E:E2 order_date']);
});

it('text comparator case-folds (Hauptstraße = HAUPTSTRASSE, ΟΔΟΣ = οδοσ; Köln ≠ Koln)', async () => {
  const t = 'fold';
  await stageRows(db, t, 'crm', 'customer', [
    { id: 'C1', erp_ref: 'E1', billing_street: 'Hauptstraße 1' },
    { id: 'C2', erp_ref: 'E2', billing_street: 'ΟΔΟΣ 5', billing_city: 'Köln' },
  ]);
  await stageRows(db, t, 'erp', 'customer', [
    { id: 'E1', billing_street: 'HAUPTSTRASSE 1' },
    { id: 'E2', billing_street: 'οδοσ 5', billing_city: 'Koln' },
  ]);
  const s = await reconcile(db, await dataDir(), t, csvTenantConfig(t), { entities: ['customer'] });
  expect(s.errors).toEqual([]);
  expect(await openKeys(db, t)).toEqual(['customer field_mismatch C:C2|E:E2 billing_city']);
});

it('values and ids with newlines, quotes and commas survive the CSV transfers', async () => {
  const t = 'csvq';
  await stageRows(db, t, 'crm', 'customer', [
    {
      id: 'C,1"x',
      erp_ref: 'E\n1',
      billing_street: 'Line 1\nLine 2',
      name: 'A "quoted", name',
      credit_limit: '1',
    },
    { id: 'C2', erp_ref: 'E2', billing_street: 'Line 1\r\nLine 2', name: '\\.' },
  ]);
  await stageRows(db, t, 'erp', 'customer', [
    { id: 'E\n1', billing_street: 'Line 1\nLine 2', name: 'A "quoted", name', credit_limit: '2' },
    { id: 'E2', billing_street: 'Line 1\r\nLine 2', name: '\\.', credit_limit: '3' },
  ]);
  const s = await reconcile(db, await dataDir(), t, csvTenantConfig(t), { entities: ['customer'] });
  expect(s.errors).toEqual([]);
  expect(await openKeys(db, t)).toEqual([
    'customer field_mismatch C:C,1"x|E:E\n1 credit_limit',
    'customer field_mismatch C:C2|E:E2 credit_limit',
  ]);
});

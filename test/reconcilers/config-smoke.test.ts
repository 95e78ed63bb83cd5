// Unusual but valid entity configs (no null equivalents, every field ignored, comparators on
// fields of another type, other match keys, no links at all) run without errors, twice.
import { afterAll, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { csvTenantConfig, dataDir, openKeys, reconcile, removeDataDirs, stageRows } from './helpers.js';

const db = useTestDatabase('recon_cfgsmoke');
afterAll(async () => {
  await removeDataDirs();
});

const configs: Record<string, Record<string, unknown>> = {
  nonull: { nullEquivalents: [] },
  nonulltext: { nullEquivalents: [], compare: { name: { type: 'text' } } },
  manynull: { nullEquivalents: ['', 'N/A', '-'] },
  ignoreall: {
    ignoreFields: [
      'name',
      'legal_name',
      'website',
      'email',
      'phone',
      'billing_street',
      'billing_city',
      'billing_postal_code',
      'billing_country',
      'owner',
      'lifecycle_stage',
      'erp_customer_number',
      'tax_id',
      'currency',
      'payment_terms',
      'credit_limit',
      'company',
      'ar_balance',
    ],
  },
  oddcmp: {
    compare: {
      name: { type: 'money', toleranceMinor: 5 },
      credit_limit: { type: 'text' },
      email: { type: 'numeric', absolute: '1', relative: 0.5 },
      phone: { type: 'date', granularity: 'hour' },
      currency: { type: 'enum', valueMap: { crm: { usd: 'USD' } } },
    },
  },
  keys: {
    match: {
      direct: [{ side: 'erp', field: 'erp_customer_number' }],
      keys: [
        { field: 'phone', normalise: 'phone' },
        { field: 'tax_id', normalise: 'tax_id' },
        { field: 'email', normalise: 'email' },
      ],
    },
  },
  nolinks: { match: { direct: [], keys: [] } },
};

for (const [name, entity] of Object.entries(configs))
  it(`config ${name} runs`, async () => {
    const t = `cfg_${name}`;
    const dir = await dataDir();
    await stageRows(db, t, 'crm', 'customer', [
      {
        id: 'C1',
        erp_ref: 'E1',
        name: 'N/A',
        email: 'a@x.io',
        phone: '+1 555',
        tax_id: 'DE-1',
        credit_limit: '10',
      },
      { id: 'C2', name: 'Solo', email: 'b@x.io' },
    ]);
    await stageRows(db, t, 'erp', 'customer', [
      {
        id: 'E1',
        name: '',
        email: 'A@x.io',
        phone: '1555',
        tax_id: 'de1',
        credit_limit: '10.0',
        currency: 'USD',
      },
      { id: 'E2', name: 'Other', email: 'c@x.io' },
    ]);
    const cfg = csvTenantConfig(t, { entities: { customer: entity } });
    const s = await reconcile(db, dir, t, cfg, { entities: ['customer'] });
    expect(s.errors).toEqual([]);
    const s2 = await reconcile(db, dir, t, cfg, { entities: ['customer'] });
    expect(s2.errors).toEqual([]);
    expect((await openKeys(db, t)).length).toBeGreaterThan(0);
  });

// Precision and recall against the ground-truth generator: for several seeds and three tenants
// with different overrides (owners, tolerances, value maps, currencies incl. JPY and BHD), the
// open discrepancies after a full run are exactly the injected ones — no tolerance edge case
// reported, none missed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GenerateOptions, generateTenant } from '../../pipeline/generator/ground-truth.js';
import { stageTenant } from '../../pipeline/generator/stage-generated.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { dataDir, keyOf, openDiscrepancies, reconcile, removeDataDirs, tenantConfigOf } from './helpers.js';

const TENANTS: Omit<GenerateOptions, 'seed' | 'tenant'>[] = [
  {},
  {
    currencies: ['JPY', 'BHD'],
    overrides: {
      toleranceMinor: 5,
      survivorship: {
        customer: { name: { rule: 'owner', owner: 'erp' } },
        invoice: { status: { rule: 'most_recent' } },
      },
    },
    systems: { crm: 'salesforce', erp: 'netsuite' },
  },
  {
    currencies: ['EUR', 'USD', 'BHD'],
    overrides: {
      valueMaps: false,
      materialityThreshold: '0',
      createMissing: false,
      survivorship: {
        order: { amount_total: { rule: 'max' }, status: { rule: 'report_only' } },
        payment: { amount: { rule: 'min' } },
      },
    },
  },
];
const SEEDS = [1, 2, 3, 4, 5];
const COUNTS = { customer: 150, product: 50, order: 120, invoice: 120, payment: 80, subscription: 60 };

let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase('recon_pr');
  dir = await dataDir();
});
afterAll(async () => {
  await removeDataDirs();
  await db?.drop();
});

describe('reconcile precision and recall vs the generator truth', () => {
  for (const [ti, t] of TENANTS.entries()) {
    for (const seed of SEEDS) {
      it(`tenant profile ${ti}, seed ${seed}`, async () => {
        const tenant = `t${ti}-s${seed}`;
        const opts: GenerateOptions = { ...t, tenant, seed, counts: COUNTS };
        const gen = generateTenant(opts);
        await stageTenant(db.staging.pool, gen);
        const summary = await reconcile(db, dir, tenant, tenantConfigOf(opts), { mode: 'full' });
        expect(summary.errors).toEqual([]);
        const got = new Set((await openDiscrepancies(db, tenant)).map(keyOf));
        const want = new Set(gen.truth.map(keyOf));
        const falsePositives = [...got].filter((k) => !want.has(k));
        const missed = [...want].filter((k) => !got.has(k));
        expect({ falsePositives, missed }).toEqual({ falsePositives: [], missed: [] });
        // Every class is exercised.
        expect(new Set(gen.truth.map((x) => x.class)).size).toBe(5);
      });
    }
  }
});

// Precision and recall against the ground-truth generator: for several seeds and three tenants
// with different overrides (owners, tolerances, value maps, currencies incl. JPY and BHD), the
// open discrepancies after a full run are exactly the injected ones — no tolerance edge case
// reported, none missed. References hold each system's own ids (an invoice's customer_ref is a
// CRM id on one side, an ERP number on the other). The "mapping gone wrong" profiles dead-letter
// 30 % of one side: their counterparts are unverifiable, never a false missing_in_*.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GenerateOptions, generateTenant } from '../../pipeline/generator/ground-truth.js';
import { stageTenant } from '../../pipeline/generator/stage-generated.js';
import { useTestDatabase } from '../support/database.js';
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

/** "Mapping gone wrong": 30 % of one side's records dead-lettered, some references unlinked. */
const MAPPING_GONE_WRONG: Omit<GenerateOptions, 'seed' | 'tenant'>[] = [
  { deadLetters: { side: 'crm', share: 0.3 }, rates: { unlinked_reference: 0.05 } },
  {
    deadLetters: { side: 'erp', share: 0.3, entities: ['customer', 'invoice'] },
    currencies: ['EUR', 'JPY'],
    systems: { crm: 'hubspot', erp: 'netsuite' },
  },
];
const COUNTS = { customer: 150, product: 50, order: 120, invoice: 120, payment: 80, subscription: 60 };

const db = useTestDatabase('recon_pr');
let dir: string;
beforeAll(async () => {
  dir = await dataDir();
});
afterAll(async () => {
  await removeDataDirs();
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
  for (const [ti, t] of MAPPING_GONE_WRONG.entries()) {
    for (const seed of [ti + 1]) {
      it(`mapping gone wrong ${ti} (30 % of the ${t.deadLetters!.side} side dead-lettered), seed ${seed}`, async () => {
        const tenant = `dl${ti}-s${seed}`;
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
        // No false missing_in_*: every one reported is one the generator made.
        expect(falsePositives.filter((k) => k.includes(' missing_in_'))).toEqual([]);
        expect(gen.truth.filter((x) => x.class === 'unverifiable').length).toBeGreaterThan(20);
        // The summary states the dead-lettered side as incomplete, per entity.
        const side = t.deadLetters!.side;
        const hit = summary.incomplete.filter((i) => i.side === side);
        expect(hit.map((i) => i.entity).sort()).toEqual(
          [
            ...(t.deadLetters!.entities ?? [
              'customer',
              'invoice',
              'order',
              'payment',
              'product',
              'subscription',
            ]),
          ].sort(),
        );
        for (const i of hit) expect(i.completeness).toBeGreaterThan(0.55);
        for (const i of hit) expect(i.completeness).toBeLessThan(0.85);
      });
    }
  }
});

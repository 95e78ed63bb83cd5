// A small deterministic generator of HubSpot records for the sandbox, used until the shared
// ground-truth generator (pipeline/generator/ground-truth.ts) can feed the sandbox directly.
// SEAM: the sandbox takes `records` (HubspotSeedRecords) as its input; a ground-truth adapter
// only has to produce that shape, and this file can then go.
import { prng } from '../http/sandbox-server.js';
import type { HubspotObjectType } from './config.js';
import type { SeedAssociation } from './hubspot-sandbox-associations.js';

export interface HubspotSeedRecord {
  id?: string;
  properties: Record<string, string | null>;
  /** Epoch ms; default: the generator's base time. */
  createdAt?: number;
  updatedAt?: number;
  archived?: boolean;
  archivedAt?: number;
  /** Associated records by object type (needs explicit ids on both sides). */
  associations?: Partial<Record<HubspotObjectType, SeedAssociation[]>>;
}

export type HubspotSeedRecords = Partial<Record<HubspotObjectType, HubspotSeedRecord[]>>;

export interface HubspotSeedOptions {
  seed?: number;
  counts?: Partial<Record<HubspotObjectType, number>>;
  /** Stamps are spread over the hour before this instant (epoch ms). */
  baseTime?: number;
}

const CITIES = ['Berlin', 'Lyon', 'Austin', 'Leeds', 'Osaka', 'Porto', 'Gdansk'];
const COUNTRIES = ['DE', 'FR', 'US', 'GB', 'JP', 'PT', 'PL'];
const CURRENCIES = ['EUR', 'USD', 'GBP'];
const STAGES = ['appointmentscheduled', 'qualifiedtobuy', 'contractsent', 'closedwon', 'closedlost'];
const INVOICE_STATUS = ['draft', 'open', 'paid', 'voided'];

export function generateHubspotSeed(opts: HubspotSeedOptions = {}): HubspotSeedRecords {
  const rnd = prng(opts.seed ?? 42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const money = () => (Math.floor(rnd() * 10_000_000) / 100).toFixed(2);
  const base = opts.baseTime ?? Date.UTC(2024, 0, 1);
  const stamp = () => base - Math.floor(rnd() * 3_600_000);
  const day = (i: number) => new Date(Date.UTC(2024, 0, 1 + (i % 300))).toISOString().slice(0, 10);
  const counts = { companies: 20, products: 10, deals: 20, invoices: 20, contacts: 0, ...opts.counts };
  const out: HubspotSeedRecords = {};
  const make = (type: HubspotObjectType, props: (i: number) => Record<string, string | null>) => {
    const n = counts[type] ?? 0;
    out[type] = Array.from({ length: n }, (_, i) => {
      const t = stamp();
      return { properties: props(i), createdAt: t, updatedAt: t };
    });
  };
  make('companies', (i) => ({
    name: `Company ${i + 1}`,
    domain: `company${i + 1}.example`,
    phone: `+49 30 ${100000 + i}`,
    address: `${i + 1} Main Street`,
    city: pick(CITIES),
    zip: String(10000 + i),
    country: pick(COUNTRIES),
    lifecyclestage: pick(['lead', 'customer', 'opportunity']),
    erp_id: rnd() < 0.8 ? `C${String(i + 1).padStart(6, '0')}` : null,
  }));
  make('contacts', (i) => ({ email: `person${i + 1}@example.com`, company: `Company ${i + 1}` }));
  make('products', (i) => ({
    name: `Product ${i + 1}`,
    hs_sku: `SKU-${i + 1}`,
    price: money(),
    hs_price_currency: pick(CURRENCIES),
  }));
  make('deals', (i) => ({
    dealname: `SO-${i + 1}`,
    amount: money(),
    deal_currency_code: pick(CURRENCIES),
    dealstage: pick(STAGES),
    closedate: `${day(i)}T00:00:00.000Z`,
  }));
  make('invoices', (i) => ({
    hs_number: `INV-${i + 1}`,
    hs_invoice_date: day(i),
    hs_due_date: day(i + 30),
    hs_currency: pick(CURRENCIES),
    hs_amount_billed: money(),
    hs_balance_due: '0.00',
    hs_invoice_status: pick(INVOICE_STATUS),
  }));
  return out;
}

// The seed of the Salesforce sandbox: for each SObject, a record count and a pure function from
// index to record, so a million Accounts cost no memory until they are written to.
//
// SEAM: `syntheticSalesforceSeed` is a small deterministic generator of its own. When the shared
// ground-truth generator (pipeline/generator/ground-truth.ts) lands, add a
// `salesforceSeedFromGroundTruth(truth)` that returns the same `SalesforceSeed` shape from the
// tenant's CRM side; the sandbox, tests and benchmark take any `SalesforceSeed`.
import { prng } from '../http/sandbox-server.js';

/** A record as Bulk CSV cells: API name → text; "" is null. Always has Id, SystemModstamp, IsDeleted. */
export type SfRow = Readonly<Record<string, string>>;

export interface SeededObject {
  /** Field API names the object has (its describe); SELECT of any other field is INVALID_FIELD. */
  fields: readonly string[];
  /** Key prefix of its record ids ("001" for Account). */
  keyPrefix: string;
  count: number;
  record(i: number): SfRow;
  /** SystemModstamp of seeded record i in epoch ms, without building the record. */
  stampMs(i: number): number;
  /** Fields a create must set (REQUIRED_FIELD_MISSING otherwise). */
  required?: readonly string[];
  /** Id of seeded record i and its inverse; default `keyPrefix` + base-36 index (salesforceId). */
  idOf?(i: number): string;
  indexOf?(id: string): number | undefined;
}

export type SalesforceSeed = Readonly<Record<string, SeededObject>>;

export interface SyntheticSeedOptions {
  seed: number;
  accounts?: number;
  products?: number;
  orders?: number;
  opportunities?: number;
  invoices?: number;
  /** First SystemModstamp (ms); record i is stamped base + 10 ms × i. */
  baseTimeMs?: number;
}

const COMMON = [
  'Id',
  'SystemModstamp',
  'IsDeleted',
  'CreatedDate',
  'CurrencyIsoCode',
  'ERP_Id__c',
  'CRM_Id__c',
];
const CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF', 'JPY'];
const CITIES = ['Berlin', 'Paris', 'London', 'Zürich', 'New York', 'São Paulo', 'Tokyo'];
const COUNTRIES = ['DE', 'FR', 'GB', 'CH', 'US', 'BR', 'JP'];
// Names that exercise CSV quoting: commas, quotes, newlines, non-ASCII.
const NAME_PARTS = [
  'Acme',
  'Globex',
  'Initech',
  'Umbrella',
  'Müller & Söhne',
  'Smith, Jones',
  'The "Best"',
  'Line\nBreak',
];

export function salesforceId(keyPrefix: string, i: number): string {
  return keyPrefix + i.toString(36).toUpperCase().padStart(15, '0');
}

/** The seeded index of an id of this prefix, or undefined. */
export function seededIndex(keyPrefix: string, id: string): number | undefined {
  if (!id.startsWith(keyPrefix) || id.length !== 18) return undefined;
  const n = Number.parseInt(id.slice(3), 36);
  return Number.isSafeInteger(n) ? n : undefined;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function day(ms: number): string {
  return iso(ms).slice(0, 10);
}

function money(r: () => number, max: number): string {
  return (Math.floor(r() * max * 100) / 100).toFixed(2);
}

export function syntheticSalesforceSeed(opts: SyntheticSeedOptions): SalesforceSeed {
  const base = opts.baseTimeMs ?? Date.UTC(2024, 0, 1);
  const accounts = opts.accounts ?? 200;
  const rnd = (obj: number, i: number) => prng(((opts.seed * 7919 + obj) * 1_000_003 + i) >>> 0);
  const stamp = (i: number) => base + 10 * i;
  const common = (prefix: string, i: number, r: () => number) => ({
    Id: salesforceId(prefix, i),
    SystemModstamp: iso(stamp(i)),
    IsDeleted: 'false',
    CreatedDate: iso(stamp(i)),
    CurrencyIsoCode: CURRENCIES[Math.floor(r() * CURRENCIES.length)]!,
    ERP_Id__c: r() < 0.8 ? `ERP-${prefix}-${i}` : '',
    CRM_Id__c: '',
  });
  const accountId = (r: () => number) => salesforceId('001', Math.floor(r() * Math.max(1, accounts)));
  const seed: Record<string, SeededObject> = {
    Account: {
      fields: [
        ...COMMON,
        'Name',
        'AccountNumber',
        'Website',
        'Phone',
        'BillingStreet',
        'BillingCity',
        'BillingPostalCode',
        'BillingCountry',
        'OwnerId',
        'Type',
      ],
      keyPrefix: '001',
      count: accounts,
      required: ['Name'],
      stampMs: stamp,
      record(i) {
        const r = rnd(1, i);
        const c = Math.floor(r() * CITIES.length);
        return {
          ...common('001', i, r),
          Name: `${NAME_PARTS[Math.floor(r() * NAME_PARTS.length)]} ${i}`,
          AccountNumber: `C${100000 + i}`,
          Website: r() < 0.9 ? `https://c${i}.example.com` : '',
          Phone: r() < 0.7 ? `+49 30 ${1000000 + i}` : '',
          BillingStreet: `${1 + Math.floor(r() * 200)} Main St`,
          BillingCity: CITIES[c]!,
          BillingPostalCode: String(10000 + Math.floor(r() * 89999)),
          BillingCountry: COUNTRIES[c]!,
          OwnerId: salesforceId('005', Math.floor(r() * 20)),
          Type: r() < 0.5 ? 'Customer - Direct' : 'Prospect',
        };
      },
    },
    Product2: {
      fields: [...COMMON, 'Name', 'ProductCode', 'Family', 'QuantityUnitOfMeasure', 'IsActive'],
      keyPrefix: '01t',
      count: opts.products ?? 50,
      required: ['Name'],
      stampMs: stamp,
      record(i) {
        const r = rnd(2, i);
        return {
          ...common('01t', i, r),
          Name: `Product ${i}`,
          ProductCode: `SKU-${i}`,
          Family: r() < 0.5 ? 'Hardware' : 'Software',
          QuantityUnitOfMeasure: r() < 0.5 ? 'Each' : '',
          IsActive: r() < 0.9 ? 'true' : 'false',
        };
      },
    },
    Order: {
      fields: [...COMMON, 'OrderNumber', 'AccountId', 'EffectiveDate', 'Status', 'TotalAmount'],
      keyPrefix: '801',
      count: opts.orders ?? 100,
      required: ['AccountId', 'EffectiveDate', 'Status'],
      stampMs: stamp,
      record(i) {
        const r = rnd(3, i);
        return {
          ...common('801', i, r),
          OrderNumber: String(100 + i).padStart(8, '0'),
          AccountId: accountId(r),
          EffectiveDate: day(base - Math.floor(r() * 365) * 86_400_000),
          Status: r() < 0.7 ? 'Activated' : 'Draft',
          TotalAmount: money(r, 50_000),
        };
      },
    },
    Opportunity: {
      fields: [...COMMON, 'Name', 'AccountId', 'CloseDate', 'StageName', 'Amount'],
      keyPrefix: '006',
      count: opts.opportunities ?? 50,
      required: ['Name', 'CloseDate', 'StageName'],
      stampMs: stamp,
      record(i) {
        const r = rnd(4, i);
        return {
          ...common('006', i, r),
          Name: `Deal ${i}`,
          AccountId: accountId(r),
          CloseDate: day(base + Math.floor(r() * 90) * 86_400_000),
          StageName: r() < 0.5 ? 'Closed Won' : 'Negotiation/Review',
          Amount: r() < 0.9 ? money(r, 100_000) : '',
        };
      },
    },
    Invoice__c: {
      fields: [
        ...COMMON,
        'Name',
        'Account__c',
        'Issue_Date__c',
        'Due_Date__c',
        'Total__c',
        'Tax__c',
        'Balance__c',
        'Status__c',
        'Order__c',
      ],
      keyPrefix: 'a0I',
      count: opts.invoices ?? 100,
      required: ['Name'],
      stampMs: stamp,
      record(i) {
        const r = rnd(5, i);
        const issued = base - Math.floor(r() * 365) * 86_400_000;
        const total = money(r, 20_000);
        const paid = r() < 0.5;
        return {
          ...common('a0I', i, r),
          Name: `INV-${100000 + i}`,
          Account__c: accountId(r),
          Issue_Date__c: day(issued),
          Due_Date__c: day(issued + 30 * 86_400_000),
          Total__c: total,
          Tax__c: (Math.floor(Number(total) * 19) / 100).toFixed(2),
          Balance__c: paid ? '0.00' : total,
          Status__c: paid ? 'Paid' : 'Open',
          Order__c: r() < 0.5 ? salesforceId('801', Math.floor(r() * Math.max(1, opts.orders ?? 100))) : '',
        };
      },
    },
  };
  return seed;
}

// A small deterministic generator of NetSuite rows for the sandbox, used until the shared
// ground-truth generator (pipeline/generator/ground-truth.ts) can feed the sandbox directly.
// SEAM: the sandbox takes `tables` (NetsuiteSeedTables: rows per SuiteQL table, dates as epoch
// ms) as its input; a ground-truth adapter only has to produce that shape.
import { prng } from '../http/sandbox-server.js';
import type { Row } from './suiteql-parser.js';

export interface NetsuiteSeedTables {
  customer?: Row[];
  item?: Row[];
  transaction?: Row[];
  deletedrecord?: Row[];
}

export interface NetsuiteSeedOptions {
  seed?: number;
  counts?: Partial<Record<'customer' | 'item' | 'salesorder' | 'invoice' | 'payment', number>>;
  /** Stamps are whole seconds spread over the day before this instant (epoch ms). */
  baseTime?: number;
}

const CURRENCIES = ['EUR', 'USD', 'GBP'];
const TERMS = ['Net 30', 'Net 60', 'Due on receipt'];

export function generateNetsuiteSeed(opts: NetsuiteSeedOptions = {}): NetsuiteSeedTables {
  const rnd = prng(opts.seed ?? 42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const money = () => Math.floor(rnd() * 10_000_000) / 100;
  const base = Math.floor((opts.baseTime ?? Date.UTC(2024, 0, 1)) / 1000) * 1000;
  const stamp = () => base - Math.floor(rnd() * 86_400) * 1000;
  const day = (i: number) => Date.UTC(2024, 0, 1 + (i % 300));
  const counts = { customer: 20, item: 10, salesorder: 20, invoice: 20, payment: 10, ...opts.counts };
  let id = 100;
  const customer: Row[] = Array.from({ length: counts.customer }, (_, i) => {
    const t = stamp();
    return {
      id: id++,
      entityid: `C${String(i + 1).padStart(6, '0')}`,
      companyname: `Company ${i + 1}`,
      email: `ap${i + 1}@company${i + 1}.example`,
      phone: `+49 30 ${100000 + i}`,
      currency: pick(CURRENCIES),
      terms: pick(TERMS),
      creditlimit: money(),
      externalid: rnd() < 0.8 ? `hs-${i + 1}` : null,
      isinactive: 'F',
      datecreated: t,
      lastmodifieddate: t,
    };
  });
  const item: Row[] = Array.from({ length: counts.item }, (_, i) => {
    const t = stamp();
    return {
      id: id++,
      itemid: `SKU-${i + 1}`,
      displayname: `Product ${i + 1}`,
      itemtype: 'InvtPart',
      baseprice: money(),
      isinactive: rnd() < 0.1 ? 'T' : 'F',
      externalid: null,
      lastmodifieddate: t,
    };
  });
  const transaction: Row[] = [];
  const tx = (type: string, n: number, prefix: string, status: () => string) => {
    for (let i = 0; i < n; i++) {
      const t = stamp();
      const total = money();
      transaction.push({
        id: id++,
        type,
        tranid: `${prefix}${i + 1}`,
        entity: customer.length ? (customer[i % customer.length]!.id as number) : null,
        trandate: day(i),
        duedate: type === 'CustInvc' ? day(i + 30) : null,
        status: status(),
        currency: pick(CURRENCIES),
        foreigntotal: total,
        taxtotal: Math.round(total * 19) / 100,
        foreignamountremaining: type === 'CustInvc' ? total : null,
        externalid: null,
        lastmodifieddate: t,
      });
    }
  };
  tx('SalesOrd', counts.salesorder, 'SO', () => pick(['A', 'B', 'F']));
  tx('CustInvc', counts.invoice, 'INV', () => pick(['A', 'B']));
  tx('CustPymt', counts.payment, 'PYMT', () => 'C');
  return { customer, item, transaction, deletedrecord: [] };
}

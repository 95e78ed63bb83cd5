// The NetSuite sandbox's reference lists: the `currency` and `term` tables, and how a reference
// column of a record table is served (WIRE.md "References"). The sandbox stores a customer's
// currency as its ISO code and its terms as their name, so that tests read the data plainly; on
// the wire a reference is the list entry's internal id, as NetSuite serves it, and BUILTIN.DF
// gives its display name (a currency's name, "Euro", not its ISO code).
import type { RefList, Row, Value } from './suiteql-eval.js';

/** Currencies every sandbox account has (id, name, ISO code in `symbol`, display symbol). */
const CURRENCIES: readonly [number, string, string, string][] = [
  [1, 'US Dollar', 'USD', '$'],
  [2, 'Euro', 'EUR', '€'],
  [3, 'British pound', 'GBP', '£'],
  [4, 'Swiss Franc', 'CHF', 'CHF'],
  [5, 'Japanese Yen', 'JPY', '¥'],
];
const TERMS = ['Net 15', 'Net 30', 'Net 60', 'Due on receipt'];

export class SandboxLists {
  readonly currency = new Map<number, Row>();
  readonly term = new Map<number, Row>();

  constructor() {
    for (const [id, name, symbol, displaysymbol] of CURRENCIES)
      this.currency.set(id, {
        id,
        name,
        symbol,
        displaysymbol,
        isbasecurrency: id === 1 ? 'T' : 'F',
        isinactive: 'F',
      });
    for (const [i, name] of TERMS.entries()) this.term.set(i + 1, { id: i + 1, name, isinactive: 'F' });
  }

  /** The id of the currency with ISO code `symbol`; an unknown code gets a new currency. */
  currencyId(symbol: string): number {
    for (const r of this.currency.values()) if (r.symbol === symbol) return r.id as number;
    const id = this.currency.size + 1;
    this.currency.set(id, {
      id,
      name: symbol,
      symbol,
      displaysymbol: symbol,
      isbasecurrency: 'F',
      isinactive: 'F',
    });
    return id;
  }

  /** The id of the term named `name`; an unknown name gets a new term. */
  termId(name: string): number {
    for (const r of this.term.values()) if (r.name === name) return r.id as number;
    const id = this.term.size + 1;
    this.term.set(id, { id, name, isinactive: 'F' });
    return id;
  }

  /** The reference columns of a record table, with `customers` for transaction.entity. */
  refs(table: string, customers: ReadonlyMap<number, Row>): ReadonlyMap<string, RefList> {
    const currency: RefList = {
      id: (v) => (typeof v === 'string' && v ? this.currencyId(v) : null),
      display: (v) =>
        typeof v === 'string' && v ? (this.currency.get(this.currencyId(v))!.name as string) : null,
    };
    const terms: RefList = {
      id: (v) => (typeof v === 'string' && v ? this.termId(v) : null),
      display: (v) => (typeof v === 'string' && v ? v : null),
    };
    const entity: RefList = {
      id: (v) => (v == null || v === '' ? null : Number(v)),
      display: (v: Value) => (v == null ? null : ((customers.get(Number(v))?.companyname as string) ?? null)),
    };
    if (table === 'customer')
      return new Map([
        ['currency', currency],
        ['terms', terms],
      ]);
    if (table === 'transaction')
      return new Map([
        ['currency', currency],
        ['entity', entity],
      ]);
    return new Map();
  }

  /** The stored value (ISO code, term name) of a reference given by internal id; undefined if none. */
  storedCurrency(id: number): string | undefined {
    return this.currency.get(id)?.symbol as string | undefined;
  }
  storedTerm(id: number): string | undefined {
    return this.term.get(id)?.name as string | undefined;
  }
}

// How the NetSuite writer says a SuiteQL column in the REST record API (WIRE.md "Record upsert"):
// record type ids and body field ids are camelCase (`salesOrder`, `companyName`), references
// are objects `{"id": "…"}` (currency and terms by their internal id, looked up by ISO code and
// name), numbers JSON numbers, checkboxes booleans, dates 'YYYY-MM-DD'. Computed columns (totals,
// balances, status, the base price on the pricing sublist) have no body field: a correction of
// one is reported, never half-written. Custom fields keep their script id.
import type { Entity } from '../../../staging/model/entities.js';
import type { NetsuiteStream } from './config.js';

export type RestKind = 'text' | 'number' | 'boolean' | 'date' | 'currency' | 'term' | 'customer';

export interface RestField {
  /** The REST body field id. */
  field: string;
  kind: RestKind;
}

export interface RestRecordType {
  /** The REST record type id of /record/v1/{type}. */
  type: string;
  /** SuiteQL column → REST body field. */
  fields: Readonly<Record<string, RestField>>;
}

const TX: Readonly<Record<string, RestField>> = {
  tranid: { field: 'tranId', kind: 'text' },
  trandate: { field: 'tranDate', kind: 'date' },
  currency: { field: 'currency', kind: 'currency' },
  memo: { field: 'memo', kind: 'text' },
};

export const REST_RECORDS: Readonly<Record<NetsuiteStream, RestRecordType>> = {
  customer: {
    type: 'customer',
    fields: {
      entityid: { field: 'entityId', kind: 'text' },
      companyname: { field: 'companyName', kind: 'text' },
      email: { field: 'email', kind: 'text' },
      phone: { field: 'phone', kind: 'text' },
      creditlimit: { field: 'creditLimit', kind: 'number' },
      currency: { field: 'currency', kind: 'currency' },
      terms: { field: 'terms', kind: 'term' },
      isinactive: { field: 'isInactive', kind: 'boolean' },
    },
  },
  item: {
    type: 'inventoryItem',
    fields: {
      itemid: { field: 'itemId', kind: 'text' },
      displayname: { field: 'displayName', kind: 'text' },
      isinactive: { field: 'isInactive', kind: 'boolean' },
    },
  },
  salesorder: { type: 'salesOrder', fields: { ...TX, entity: { field: 'entity', kind: 'customer' } } },
  invoice: {
    type: 'invoice',
    fields: {
      ...TX,
      entity: { field: 'entity', kind: 'customer' },
      duedate: { field: 'dueDate', kind: 'date' },
    },
  },
  payment: {
    type: 'customerPayment',
    fields: {
      ...TX,
      entity: { field: 'customer', kind: 'customer' },
      foreigntotal: { field: 'payment', kind: 'number' },
    },
  },
};

/** The stream (and so the REST record type) an entity is written to. */
export const STREAM_OF_ENTITY: Partial<Record<Entity, NetsuiteStream>> = {
  customer: 'customer',
  product: 'item',
  order: 'salesorder',
  invoice: 'invoice',
  payment: 'payment',
};

const CUSTOM_FIELD = /^cust(entity|item|body)_[a-z0-9_]+$/;

/** The REST field of a column: the table's, or a custom field's own id; null when not writable. */
export function restField(record: RestRecordType, column: string): RestField | null {
  return record.fields[column] ?? (CUSTOM_FIELD.test(column) ? { field: column, kind: 'text' } : null);
}

/** Lookups a reference needs: ISO code → currency id, term name → term id. */
export interface RestLookups {
  currencyId(iso: string): string | undefined;
  termId(name: string): string | undefined;
}

/** One value as the REST body wants it; `{ error }` when it is no number or a reference cannot be resolved. */
export function restValue(
  kind: RestKind,
  v: unknown,
  lookups: RestLookups,
): { value: unknown } | { error: string; code: 'INVALID_VALUE' | 'UNKNOWN_REFERENCE' } {
  if (v === null || v === undefined) return { value: null };
  switch (kind) {
    case 'text':
      return { value: String(v) };
    case 'number': {
      // A value that is no number is never sent: NetSuite would refuse the whole record.
      const n = typeof v === 'number' ? v : Number(String(v).trim());
      return String(v).trim() !== '' && Number.isFinite(n)
        ? { value: n }
        : { error: `${JSON.stringify(v)} is not a number`, code: 'INVALID_VALUE' };
    }
    case 'boolean':
      return { value: v === true || v === 'T' || v === 'true' };
    case 'date':
      return { value: String(v).slice(0, 10) };
    case 'currency': {
      const id = lookups.currencyId(String(v).toUpperCase());
      return id
        ? { value: { id } }
        : {
            error: `currency ${JSON.stringify(v)} is not in the account's currency list`,
            code: 'UNKNOWN_REFERENCE',
          };
    }
    case 'term': {
      const id = lookups.termId(String(v));
      return id
        ? { value: { id } }
        : {
            error: `terms ${JSON.stringify(v)} are not in the account's term list`,
            code: 'UNKNOWN_REFERENCE',
          };
    }
    case 'customer':
      return { value: { id: String(v) } };
  }
}

// The REST record API as the NetSuite sandbox checks it (WIRE.md "Record upsert"): record type
// ids and body field ids are camelCase and case-sensitive (`salesOrder`, `companyName`), a
// list/record reference is an object `{"id": "…"}` naming an existing entry, numbers are JSON
// numbers, checkboxes JSON booleans, dates 'YYYY-MM-DD'. Anything else is NetSuite's 400 with
// `o:errorPath` pointing at the field. This table is the sandbox's own, written from the REST API
// Browser; the writer keeps its own (netsuite-rest-fields.ts), so one cannot hide the other's slip.
import type { SandboxLists } from './netsuite-sandbox-lists.js';
import type { Row, Value } from './suiteql-eval.js';

type Kind = 'text' | 'number' | 'boolean' | 'date' | 'currency' | 'term' | 'customer';

interface FieldDef {
  /** The SuiteQL column the value is stored in. */
  column: string;
  kind: Kind;
}

export interface RecordTypeDef {
  table: 'customer' | 'item' | 'transaction';
  /** Transaction type code (SuiteQL `transaction.type`). */
  type?: string;
  /** `deletedrecord.type` of a deleted record of this type. */
  deletedType: string;
  fields: Readonly<Record<string, FieldDef>>;
}

const TX = {
  tranId: { column: 'tranid', kind: 'text' },
  tranDate: { column: 'trandate', kind: 'date' },
  currency: { column: 'currency', kind: 'currency' },
  memo: { column: 'memo', kind: 'text' },
} as const;

export const REST_RECORD_TYPES: Readonly<Record<string, RecordTypeDef>> = {
  customer: {
    table: 'customer',
    deletedType: 'customer',
    fields: {
      entityId: { column: 'entityid', kind: 'text' },
      companyName: { column: 'companyname', kind: 'text' },
      email: { column: 'email', kind: 'text' },
      phone: { column: 'phone', kind: 'text' },
      creditLimit: { column: 'creditlimit', kind: 'number' },
      currency: { column: 'currency', kind: 'currency' },
      terms: { column: 'terms', kind: 'term' },
      isInactive: { column: 'isinactive', kind: 'boolean' },
    },
  },
  inventoryItem: {
    table: 'item',
    deletedType: 'inventoryitem',
    fields: {
      itemId: { column: 'itemid', kind: 'text' },
      displayName: { column: 'displayname', kind: 'text' },
      isInactive: { column: 'isinactive', kind: 'boolean' },
    },
  },
  salesOrder: {
    table: 'transaction',
    type: 'SalesOrd',
    deletedType: 'salesorder',
    fields: { ...TX, entity: { column: 'entity', kind: 'customer' } },
  },
  invoice: {
    table: 'transaction',
    type: 'CustInvc',
    deletedType: 'invoice',
    fields: {
      ...TX,
      entity: { column: 'entity', kind: 'customer' },
      dueDate: { column: 'duedate', kind: 'date' },
    },
  },
  customerPayment: {
    table: 'transaction',
    type: 'CustPymt',
    deletedType: 'customerpayment',
    fields: {
      ...TX,
      customer: { column: 'entity', kind: 'customer' },
      payment: { column: 'foreigntotal', kind: 'number' },
    },
  },
};

/** Custom fields keep their script id as REST field id (custentity_vat, custbody_po). */
const CUSTOM_FIELD = /^cust(entity|item|body)_[a-z0-9_]+$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

export interface BodyError {
  code: string;
  detail: string;
  path: string;
}

/** The stored column values a REST body sets, or the 400 NetSuite gives for it. */
export function bodyToColumns(
  def: RecordTypeDef,
  body: unknown,
  lists: SandboxLists,
  customers: ReadonlyMap<number, Row>,
): { columns: Row } | { error: BodyError } {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    return {
      error: { code: 'INVALID_CONTENT', detail: 'The request body must be a JSON object.', path: '' },
    };
  const columns: Row = {};
  for (const [key, v] of Object.entries(body as Record<string, unknown>)) {
    if (CUSTOM_FIELD.test(key)) {
      if (v !== null && typeof v === 'object') return invalid(key, v);
      columns[key] = v === null ? null : typeof v === 'boolean' ? (v ? 'T' : 'F') : (v as Value);
      continue;
    }
    const field = def.fields[key];
    if (!field) {
      const near = Object.keys(def.fields).find((f) => f.toLowerCase() === key.toLowerCase());
      return {
        error: {
          code: 'INVALID_CONTENT',
          detail: `Error while accessing resource: Invalid field name '${key}'${near ? ` (field names are case-sensitive: '${near}')` : ''}.`,
          path: key,
        },
      };
    }
    const stored = storedValue(field.kind, v, lists, customers);
    if (stored === undefined) return invalid(key, v);
    columns[field.column] = stored;
  }
  return { columns };
}

/** NetSuite's own words for a bad value (the REST error-handling page). */
function invalid(key: string, v: unknown): { error: BodyError } {
  const shown = v !== null && typeof v === 'object' ? ((v as { id?: unknown }).id ?? JSON.stringify(v)) : v;
  return {
    error: {
      code: 'INVALID_CONTENT',
      detail: `Error while accessing resource: You have entered an Invalid Field Value ${String(shown)} for the following field: ${key}`,
      path: key,
    },
  };
}

function storedValue(
  kind: Kind,
  v: unknown,
  lists: SandboxLists,
  customers: ReadonlyMap<number, Row>,
): Value | undefined {
  if (v === null) return null;
  switch (kind) {
    case 'text':
      return typeof v === 'string' ? v : undefined;
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
    case 'boolean':
      return typeof v === 'boolean' ? (v ? 'T' : 'F') : undefined;
    case 'date':
      return typeof v === 'string' && DATE.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`))
        ? Date.parse(`${v}T00:00:00Z`)
        : undefined;
    case 'currency':
    case 'term':
    case 'customer': {
      const id = refId(v);
      if (id === null) return undefined;
      if (kind === 'currency') return lists.storedCurrency(id);
      if (kind === 'term') return lists.storedTerm(id);
      return customers.has(id) ? id : undefined;
    }
  }
}

/** The internal id of a reference object `{"id": "12"}`; null for anything else. */
function refId(v: unknown): number | null {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  const id = (v as { id?: unknown }).id;
  const n =
    typeof id === 'string' && /^\d+$/.test(id) ? Number(id) : typeof id === 'number' ? id : Number.NaN;
  return Number.isSafeInteger(n) ? n : null;
}

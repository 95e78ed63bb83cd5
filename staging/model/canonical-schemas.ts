// zod schemas of the canonical objects, derived from ENTITY_FIELDS so that there is one list.
// Every canonical field is optional and nullable: sources know different subsets, and a
// record's absence of a field is itself something reconciliation reports.
import { z } from 'zod';
import { ENTITIES, ENTITY_FIELDS, type Entity, type FieldType } from './entities.js';
import { CURRENCY_PATTERN, DECIMAL_PATTERN } from './money.js';

const DATE = /^\d{4}-\d{2}-\d{2}$/;
// ISO 8601 as sources send it: a date, optionally a time (seconds and fraction optional) and a
// zone. Postgres reads all of these as timestamptz.
const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?)?(?: ?(?:[zZ]|[+-](\d{2})(?::?(\d{2}))?(?::?\d{2})?))?$/;

/**
 * A real calendar day Postgres accepts: `Date.parse` takes "2024-02-30" (rolling it over to
 * March 1st) while Postgres rejects it and would abort the whole batch, so the parts must
 * survive a round trip. Year 0000 does not exist in Postgres either.
 */
function isRealDay(y: number, m: number, d: number): boolean {
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  const date = new Date(0);
  date.setUTCFullYear(y, m - 1, d); // not Date.UTC: it maps years 0–99 to 1900–1999
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** A YYYY-MM-DD date that exists. */
export function isRealDate(s: string): boolean {
  return DATE.test(s) && isRealDay(Number(s.slice(0, 4)), Number(s.slice(5, 7)), Number(s.slice(8, 10)));
}

/**
 * An ISO 8601 timestamp whose date exists and whose time and zone are in range (the same strict
 * reading as dates: what passes here, Postgres stores). Used for timestamp fields and for a
 * change's sourceUpdatedAt.
 */
export function isTimestamp(s: string): boolean {
  const m = TIMESTAMP.exec(s);
  if (!m || !isRealDay(Number(m[1]), Number(m[2]), Number(m[3]))) return false;
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 59)) return false;
  return m[7] === undefined || (Number(m[7]) <= 15 && Number(m[8] ?? 0) <= 59);
}

/**
 * True when `json` (JSON text) holds a NUL character, i.e. a `\u0000` escape that is not itself
 * escaped text ("\\u0000"). Postgres text and jsonb cannot store U+0000.
 */
export function jsonHasNul(json: string): boolean {
  return json.includes('\\u0000') && /(?<!\\)(?:\\\\)*\\u0000/.test(json);
}

const NUL_MESSAGE = 'contains a NUL character (\\u0000), which Postgres cannot store';

/** A json field's value: serialisable, and without NUL characters (neither in keys nor in strings). */
function isStorableJson(v: unknown): boolean {
  try {
    const json = JSON.stringify(v);
    return json !== undefined && !jsonHasNul(json);
  } catch {
    return false; // a bigint or a cycle: it cannot be stored as jsonb
  }
}

const FIELD_SCHEMAS: Record<FieldType, z.ZodType> = {
  text: z
    .string()
    .max(1_000_000)
    .refine((s) => !s.includes('\0'), NUL_MESSAGE),
  decimal: z.string().regex(DECIMAL_PATTERN, 'expected a decimal string such as "1234.50" (never a float)'),
  currency: z.string().regex(CURRENCY_PATTERN, 'expected an ISO 4217 code such as "EUR"'),
  date: z.string().regex(DATE, 'expected a date YYYY-MM-DD').refine(isRealDate, 'not a real date'),
  timestamp: z.string().refine(isTimestamp, 'expected an ISO 8601 timestamp with a real date and time'),
  boolean: z.boolean(),
  json: z
    .unknown()
    .refine(isStorableJson, 'must be JSON without NUL characters (\\u0000), which Postgres cannot store'),
};

function schemaFor(entity: Entity) {
  const shape: Record<string, z.ZodType> = {};
  for (const def of ENTITY_FIELDS[entity]) shape[def.name] = FIELD_SCHEMAS[def.type].nullable().optional();
  return z.strictObject(shape);
}

export const CANONICAL_SCHEMAS: Readonly<Record<Entity, z.ZodType<CanonicalFields>>> = Object.freeze(
  Object.fromEntries(ENTITIES.map((e) => [e, schemaFor(e)])) as unknown as Record<
    Entity,
    z.ZodType<CanonicalFields>
  >,
);

/** Canonical field values of one record: strings for text/decimal/date, booleans, JSON for json fields. */
export type CanonicalFields = Record<string, string | boolean | null | unknown>;

export type Customer = Partial<{
  crm_ref: string | null;
  erp_ref: string | null;
  name: string | null;
  legal_name: string | null;
  website: string | null;
  email: string | null;
  phone: string | null;
  billing_street: string | null;
  billing_city: string | null;
  billing_postal_code: string | null;
  billing_country: string | null;
  owner: string | null;
  lifecycle_stage: string | null;
  erp_customer_number: string | null;
  tax_id: string | null;
  currency: string | null;
  payment_terms: string | null;
  credit_limit: string | null;
  company: string | null;
  ar_balance: string | null;
}>;
export type Product = Partial<{
  crm_ref: string | null;
  erp_ref: string | null;
  sku: string | null;
  name: string | null;
  type: string | null;
  uom: string | null;
  list_price: string | null;
  currency: string | null;
  active: boolean | null;
}>;
export type Order = Partial<{
  crm_ref: string | null;
  erp_ref: string | null;
  number: string | null;
  customer_ref: string | null;
  order_date: string | null;
  status: string | null;
  currency: string | null;
  amount_untaxed: string | null;
  amount_tax: string | null;
  amount_total: string | null;
  invoice_status: string | null;
}>;
export type Invoice = Partial<{
  crm_ref: string | null;
  erp_ref: string | null;
  number: string | null;
  customer_ref: string | null;
  issue_date: string | null;
  due_date: string | null;
  currency: string | null;
  total: string | null;
  tax: string | null;
  balance: string | null;
  status: string | null;
  order_ref: string | null;
}>;
export type Payment = Partial<{
  crm_ref: string | null;
  erp_ref: string | null;
  number: string | null;
  customer_ref: string | null;
  payment_date: string | null;
  amount: string | null;
  currency: string | null;
  method: string | null;
  applied_invoices: string[] | null;
}>;
export type Subscription = Partial<{
  crm_ref: string | null;
  erp_ref: string | null;
  customer_ref: string | null;
  status: string | null;
  plan_items: unknown;
  currency: string | null;
  current_period_start: string | null;
  current_period_end: string | null;
  mrr: string | null;
}>;

export interface CanonicalByEntity {
  customer: Customer;
  product: Product;
  order: Order;
  invoice: Invoice;
  payment: Payment;
  subscription: Subscription;
}

/** Validates one record's canonical fields; returns a message naming the field, or null when valid. */
export function validateCanonical(entity: Entity, fields: unknown): string | null {
  if (plainlyValid(entity, fields)) return null;
  const result = CANONICAL_SCHEMAS[entity].safeParse(fields);
  if (result.success) return null;
  return result.error.issues.map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`).join('; ');
}

/**
 * What the canonical zod schemas accept for each type, checked without zod: the write path
 * validates every row, and zod's object parse costs more than the rest of a row's Node work.
 * It accepts a subset of what the zod schemas accept (a property test checks it); anything
 * else goes to zod, which decides and words the message.
 */
const PLAIN_CHECKS: Readonly<Record<FieldType, (v: unknown) => boolean>> = {
  text: (v) => typeof v === 'string' && v.length <= 1_000_000 && !v.includes('\0'),
  decimal: (v) => typeof v === 'string' && DECIMAL_PATTERN.test(v),
  currency: (v) => typeof v === 'string' && CURRENCY_PATTERN.test(v),
  date: (v) => typeof v === 'string' && isRealDate(v),
  timestamp: (v) => typeof v === 'string' && isTimestamp(v),
  boolean: (v) => typeof v === 'boolean',
  json: isStorableJson,
};
const FIELD_TYPES = new Map(
  Object.entries(ENTITY_FIELDS).map(([entity, defs]) => [entity, new Map(defs.map((d) => [d.name, d.type]))]),
);

export function plainlyValid(entity: Entity, fields: unknown): boolean {
  if (typeof fields !== 'object' || fields === null || Object.getPrototypeOf(fields) !== Object.prototype)
    return false;
  const types = FIELD_TYPES.get(entity);
  if (!types) return false;
  // for…in rather than Object.entries: no pair arrays per record (a plain object has no
  // inherited enumerable keys; the prototype was checked above).
  const record = fields as Record<string, unknown>;
  for (const name in record) {
    const type = types.get(name);
    if (type === undefined) return false;
    const value = record[name];
    if (value !== null && value !== undefined && !PLAIN_CHECKS[type](value)) return false;
  }
  return true;
}

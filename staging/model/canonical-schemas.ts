// zod schemas of the canonical objects, derived from ENTITY_FIELDS so that there is one list.
// Every canonical field is optional and nullable: sources know different subsets, and a
// record's absence of a field is itself something reconciliation reports. The schemas read
// what sources plausibly send into the one canonical spelling of each type (canonical-values.ts):
// their output is what the write path stages.
import { z } from 'zod';
import { isStorableJson, MAX_TEXT_LENGTH, readCanonicalValue } from './canonical-values.js';
import { isCanonicalTimestamp, isRealDate, readTimestamp } from './date-text.js';
import { CANONICAL_DECIMAL_PATTERN } from './decimal-text.js';
import { ENTITIES, ENTITY_FIELDS, type Entity, type FieldType } from './entities.js';
import { CURRENCY_PATTERN } from './money.js';

export { jsonHasNul } from './canonical-values.js';
export { isRealDate } from './date-text.js';

/**
 * An ISO 8601 timestamp whose date exists and whose time and zone are in range (what passes
 * here, Postgres stores). The write path stages its canonical UTC form (date-text.ts
 * readTimestamp), for timestamp fields and a change's sourceUpdatedAt alike.
 */
export function isTimestamp(s: string): boolean {
  return readTimestamp(s).ok;
}

/** The zod schema of one field type: reads a source value into its canonical value. */
function fieldSchema(type: FieldType): z.ZodType {
  return z.unknown().transform((value, ctx) => {
    const read = readCanonicalValue(type, value);
    if (read.ok) return read.value;
    ctx.addIssue({ code: 'custom', message: read.reason, input: value });
    return z.NEVER;
  });
}

const FIELD_SCHEMAS = Object.fromEntries(
  (['text', 'decimal', 'currency', 'date', 'timestamp', 'boolean', 'json'] as const).map((t) => [
    t,
    fieldSchema(t),
  ]),
) as Record<FieldType, z.ZodType>;

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

export type CanonicalResult = { ok: true; fields: CanonicalFields } | { ok: false; problem: string };

/**
 * One record's canonical fields, normalised (`"1001.0000"` → `"1001"`, `"eur"` → `"EUR"`,
 * `"t"` → true…), or the problem: every bad field named with its value, joined by "; ". When
 * every value is already canonical the same object comes back (no copy per row).
 */
export function normaliseCanonical(entity: Entity, fields: unknown): CanonicalResult {
  if (plainlyValid(entity, fields)) return { ok: true, fields: fields as CanonicalFields };
  const types = FIELD_TYPES.get(entity);
  if (types && isPlainObject(fields) && Object.keys(fields).every((k) => types.has(k))) {
    // Known fields of a plain object: read value by value, without zod (the write path's cost).
    let out: Record<string, unknown> | undefined;
    const problems: string[] = [];
    for (const name in fields) {
      const value = fields[name];
      const type = types.get(name)!;
      if (value === null || value === undefined || PLAIN_CHECKS[type](value)) continue;
      const read = readCanonicalValue(type, value);
      if (!read.ok) problems.push(`${name}: ${read.reason}`);
      else if (read.value !== value) {
        out ??= { ...fields };
        out[name] = read.value;
      }
    }
    return problems.length
      ? { ok: false, problem: problems.join('; ') }
      : { ok: true, fields: out ?? fields };
  }
  const result = CANONICAL_SCHEMAS[entity].safeParse(fields);
  if (result.success) return { ok: true, fields: result.data };
  return {
    ok: false,
    problem: result.error.issues.map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`).join('; '),
  };
}

/**
 * Validates one record's canonical fields; returns a message naming each bad field and its
 * value, or null when the record can be staged (after normaliseCanonical).
 */
export function validateCanonical(entity: Entity, fields: unknown): string | null {
  const result = normaliseCanonical(entity, fields);
  return result.ok ? null : result.problem;
}

/**
 * Values already in their canonical spelling, checked without zod: the write path reads every
 * row, and zod's object parse costs more than the rest of a row's Node work. What passes here,
 * the zod schemas return unchanged (a property test checks it); anything else is read by
 * canonical-values.ts.
 */
const PLAIN_CHECKS: Readonly<Record<FieldType, (v: unknown) => boolean>> = {
  text: (v) => typeof v === 'string' && v.length <= MAX_TEXT_LENGTH && !v.includes('\0'),
  decimal: (v) => typeof v === 'string' && CANONICAL_DECIMAL_PATTERN.test(v),
  currency: (v) => typeof v === 'string' && CURRENCY_PATTERN.test(v),
  date: (v) => typeof v === 'string' && isRealDate(v),
  timestamp: (v) => typeof v === 'string' && isCanonicalTimestamp(v),
  boolean: (v) => typeof v === 'boolean',
  json: isStorableJson,
};
const FIELD_TYPES = new Map(
  Object.entries(ENTITY_FIELDS).map(([entity, defs]) => [entity, new Map(defs.map((d) => [d.name, d.type]))]),
);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

/** Every value of the record is null, absent or already canonical: it is staged as it is. */
export function plainlyValid(entity: Entity, fields: unknown): boolean {
  if (!isPlainObject(fields)) return false;
  const types = FIELD_TYPES.get(entity);
  if (!types) return false;
  // for…in rather than Object.entries: no pair arrays per record (a plain object has no
  // inherited enumerable keys; the prototype was checked above).
  for (const name in fields) {
    const type = types.get(name);
    if (type === undefined) return false;
    const value = fields[name];
    if (value !== null && value !== undefined && !PLAIN_CHECKS[type](value)) return false;
  }
  return true;
}

// The canonical model: six business objects, their fields, types and typical owners.
// This list is the single source for the zod schemas (canonical-schemas.ts), the staging
// write path's column list, and the reconcilers' comparators. The staging tables in
// sql/migrations must carry exactly these columns (a test checks it).

export const ENTITIES = ['customer', 'product', 'order', 'invoice', 'payment', 'subscription'] as const;
export type Entity = (typeof ENTITIES)[number];

export type FieldType = 'text' | 'decimal' | 'currency' | 'date' | 'timestamp' | 'boolean' | 'json';
export type SystemRole = 'crm' | 'erp';

export interface FieldDef {
  readonly name: string;
  readonly type: FieldType;
  /** Default system of record; tenants override it in survivorship. */
  readonly owner: SystemRole;
  /** For decimal fields that are money: the canonical field holding its currency. */
  readonly currencyField?: string;
}

const f = (name: string, type: FieldType, owner: SystemRole, currencyField?: string): FieldDef =>
  currencyField ? { name, type, owner, currencyField } : { name, type, owner };

/** Link fields every entity carries: a CRM record may hold the ERP id and the reverse (direct match keys). */
const LINKS: readonly FieldDef[] = [f('crm_ref', 'text', 'crm'), f('erp_ref', 'text', 'erp')];

export const ENTITY_FIELDS: Readonly<Record<Entity, readonly FieldDef[]>> = Object.freeze({
  customer: [
    ...LINKS,
    f('name', 'text', 'crm'),
    f('legal_name', 'text', 'crm'),
    f('website', 'text', 'crm'),
    f('email', 'text', 'crm'),
    f('phone', 'text', 'crm'),
    f('billing_street', 'text', 'crm'),
    f('billing_city', 'text', 'crm'),
    f('billing_postal_code', 'text', 'crm'),
    f('billing_country', 'text', 'crm'),
    f('owner', 'text', 'crm'),
    f('lifecycle_stage', 'text', 'crm'),
    f('erp_customer_number', 'text', 'erp'),
    f('tax_id', 'text', 'erp'),
    f('currency', 'currency', 'erp'),
    f('payment_terms', 'text', 'erp'),
    f('credit_limit', 'decimal', 'erp', 'currency'),
    f('company', 'text', 'erp'),
    f('ar_balance', 'decimal', 'erp', 'currency'),
  ],
  product: [
    ...LINKS,
    f('sku', 'text', 'erp'),
    f('name', 'text', 'erp'),
    f('type', 'text', 'erp'),
    f('uom', 'text', 'erp'),
    f('list_price', 'decimal', 'erp', 'currency'),
    f('currency', 'currency', 'erp'),
    f('active', 'boolean', 'erp'),
  ],
  order: [
    ...LINKS,
    f('number', 'text', 'erp'),
    f('customer_ref', 'text', 'erp'),
    f('order_date', 'date', 'erp'),
    f('status', 'text', 'erp'),
    f('currency', 'currency', 'erp'),
    f('amount_untaxed', 'decimal', 'erp', 'currency'),
    f('amount_tax', 'decimal', 'erp', 'currency'),
    f('amount_total', 'decimal', 'erp', 'currency'),
    f('invoice_status', 'text', 'erp'),
  ],
  invoice: [
    ...LINKS,
    f('number', 'text', 'erp'),
    f('customer_ref', 'text', 'erp'),
    f('issue_date', 'date', 'erp'),
    f('due_date', 'date', 'erp'),
    f('currency', 'currency', 'erp'),
    f('total', 'decimal', 'erp', 'currency'),
    f('tax', 'decimal', 'erp', 'currency'),
    f('balance', 'decimal', 'erp', 'currency'),
    f('status', 'text', 'erp'),
    f('order_ref', 'text', 'erp'),
  ],
  payment: [
    ...LINKS,
    f('number', 'text', 'erp'),
    f('customer_ref', 'text', 'erp'),
    f('payment_date', 'date', 'erp'),
    f('amount', 'decimal', 'erp', 'currency'),
    f('currency', 'currency', 'erp'),
    f('method', 'text', 'erp'),
    f('applied_invoices', 'json', 'erp'),
  ],
  subscription: [
    ...LINKS,
    f('customer_ref', 'text', 'erp'),
    f('status', 'text', 'erp'),
    f('plan_items', 'json', 'erp'),
    f('currency', 'currency', 'erp'),
    f('current_period_start', 'date', 'erp'),
    f('current_period_end', 'date', 'erp'),
    f('mrr', 'decimal', 'erp', 'currency'),
  ],
});

/** Canonical status vocabularies (connectors map source values onto these through value maps). */
export const STATUS_VALUES = Object.freeze({
  invoice: ['draft', 'open', 'partially_paid', 'paid', 'void'],
  subscription: ['trialing', 'active', 'past_due', 'canceled', 'paused'],
} as const);

export function isEntity(value: string): value is Entity {
  return (ENTITIES as readonly string[]).includes(value);
}

export function entityFields(entity: Entity): readonly FieldDef[] {
  return ENTITY_FIELDS[entity];
}

export function fieldDef(entity: Entity, field: string): FieldDef | undefined {
  return ENTITY_FIELDS[entity].find((d) => d.name === field);
}

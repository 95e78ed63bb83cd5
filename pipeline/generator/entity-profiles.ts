// What the ground-truth generator knows about each canonical entity: id prefix, business key,
// the enum field whose CRM values go through a value map, and how to make a plausible value
// for every canonical field. Shipped with the product: the demo and the sandboxes use it too.
import { ENTITY_FIELDS, type Entity, type FieldDef } from '../../staging/model/entities.js';
import { fromMinorUnits, minorUnits } from '../../staging/model/money.js';
import type { Rng } from './prng.js';

export interface EntityProfile {
  /** Short id prefix: CRM ids are `C-<prefix>-<n>`, ERP ids `E-<prefix>-<n>`. */
  prefix: string;
  /** Business key used for matching when no direct link exists (absent: xref/direct only). */
  businessKey?: { field: string; normalise: 'email' | 'text' };
  /** An enum field: canonical values and the CRM's own spelling of each (value-map edge case). */
  enumField: { field: string; values: Record<string, string> };
  /** Money field whose whole amount is the impact of a missing record (orders, invoices, payments). */
  amountField?: string;
}

export const PROFILES: Readonly<Record<Entity, EntityProfile>> = Object.freeze({
  customer: {
    prefix: 'cus',
    businessKey: { field: 'email', normalise: 'email' },
    enumField: {
      field: 'payment_terms',
      values: { net15: 'Net 15', net30: 'Net 30', net60: 'Net 60', due_on_receipt: 'Due on receipt' },
    },
  },
  product: {
    prefix: 'prd',
    businessKey: { field: 'sku', normalise: 'text' },
    enumField: { field: 'type', values: { goods: 'Goods', service: 'Service', bundle: 'Bundle' } },
  },
  order: {
    prefix: 'ord',
    businessKey: { field: 'number', normalise: 'text' },
    enumField: {
      field: 'status',
      values: { draft: 'Draft', sent: 'Sent', sale: 'Sale', cancel: 'Cancelled' },
    },
    amountField: 'amount_total',
  },
  invoice: {
    prefix: 'inv',
    businessKey: { field: 'number', normalise: 'text' },
    enumField: {
      field: 'status',
      values: { draft: 'Draft', open: 'Open', partially_paid: 'Partially Paid', paid: 'Paid', void: 'Void' },
    },
    amountField: 'total',
  },
  payment: {
    prefix: 'pay',
    businessKey: { field: 'number', normalise: 'text' },
    enumField: {
      field: 'method',
      values: { card: 'Card', wire: 'Wire Transfer', ach: 'ACH', check: 'Check' },
    },
    amountField: 'amount',
  },
  subscription: {
    prefix: 'sub',
    enumField: {
      field: 'status',
      values: {
        trialing: 'Trialing',
        active: 'Active',
        past_due: 'Past Due',
        canceled: 'Canceled',
        paused: 'Paused',
      },
    },
  },
});

const WORDS = [
  'Acme',
  'Globex',
  'Initech',
  'Umbrella',
  'Stark',
  'Wayne',
  'Hooli',
  'Vandelay',
  'Soylent',
  'Tyrell',
];
const SUFFIX = ['Corp', 'GmbH', 'Ltd', 'Inc', 'SA', 'BV'];
const CITIES = ['Berlin', 'Paris', 'Tokyo', 'Manama', 'Austin', 'Leeds'];

/** Money fields of an entity (decimal fields that carry a currency). */
export function moneyFields(entity: Entity): FieldDef[] {
  return ENTITY_FIELDS[entity].filter((d) => d.type === 'decimal' && d.currencyField);
}

/** A money amount with exactly the currency's minor digits. */
export function amount(rng: Rng, currency: string, maxMajor = 50_000): string {
  const scale = 10 ** minorUnits(currency);
  return fromMinorUnits(BigInt(rng.int(1, maxMajor * scale)), currency);
}

function day(rng: Rng, base = Date.UTC(2024, 0, 1), span = 365): string {
  return new Date(base + rng.int(0, span) * 86_400_000).toISOString().slice(0, 10);
}

/** A plausible canonical record for index `n` (ERP spelling: canonical enum values). */
export function baseFields(entity: Entity, n: number, rng: Rng, currency: string): Record<string, unknown> {
  const p = PROFILES[entity];
  const out: Record<string, unknown> = {};
  for (const d of ENTITY_FIELDS[entity]) {
    if (d.name === 'crm_ref' || d.name === 'erp_ref') {
      out[d.name] = null;
      continue;
    }
    if (d.name === p.enumField.field) {
      out[d.name] = rng.pick(Object.keys(p.enumField.values));
      continue;
    }
    switch (d.type) {
      case 'currency':
        out[d.name] = currency;
        break;
      case 'decimal':
        out[d.name] = amount(rng, currency);
        break;
      case 'date':
        out[d.name] = day(rng);
        break;
      case 'boolean':
        out[d.name] = rng.chance(0.8);
        break;
      case 'json':
        out[d.name] =
          d.name === 'applied_invoices'
            ? [`INV-${rng.int(1, 99_999)}`]
            : [{ sku: `SKU-${rng.int(1, 999)}`, qty: rng.int(1, 20) }];
        break;
      default:
        out[d.name] = textValue(entity, d.name, n, rng);
    }
  }
  return out;
}

function textValue(entity: Entity, field: string, n: number, rng: Rng): string {
  switch (field) {
    case 'name':
    case 'legal_name':
      return entity === 'product'
        ? `${rng.pick(WORDS)} Widget ${n}`
        : `${rng.pick(WORDS)} ${rng.pick(SUFFIX)} ${n}`;
    case 'email':
      return `contact${n}@${rng.pick(WORDS).toLowerCase()}.example`;
    case 'sku':
      return `SKU-${n}`;
    case 'number':
      return `${PROFILES[entity].prefix.toUpperCase()}-${n}`;
    case 'website':
      return `https://www.${rng.pick(WORDS).toLowerCase()}${n}.example`;
    case 'phone':
      return `+49 30 ${rng.int(1_000_000, 9_999_999)}`;
    case 'billing_city':
      return rng.pick(CITIES);
    case 'billing_country':
      return rng.pick(['DE', 'FR', 'JP', 'BH', 'US', 'GB']);
    case 'tax_id':
      return `DE${100_000_000 + n}`;
    case 'uom':
      return rng.pick(['each', 'hour', 'kg']);
    default:
      return `${field.replaceAll('_', ' ')} ${rng.int(1, 99_999)}`;
  }
}

/** Another value for a field, certain to differ from `v` under every comparator the generator configures. */
export function differentValue(
  def: FieldDef,
  v: unknown,
  rng: Rng,
  currency: string,
  toleranceMinor: number,
): unknown {
  switch (def.type) {
    case 'decimal': {
      const minor = BigInt(Math.round(Number(v ?? '0') * 10 ** minorUnits(currency)));
      const delta = BigInt(toleranceMinor + 1 + rng.int(0, 100_000));
      return fromMinorUnits(minor + delta, currency);
    }
    case 'date': {
      const t = Date.parse(String(v ?? '2024-01-01')) + rng.int(1, 60) * 86_400_000;
      return new Date(t).toISOString().slice(0, 10);
    }
    case 'boolean':
      return !v;
    case 'json':
      return [{ changed: rng.int(1, 1_000_000) }];
    default:
      return `${String(v ?? 'x')} changed ${rng.int(1, 1_000_000)}`;
  }
}

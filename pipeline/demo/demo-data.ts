// The demo's data: a tenant's customers from the ground-truth generator (every discrepancy class:
// mismatches, records missing on either side, duplicates, deletes), cut to the fields the demo's
// systems hold, with ids in each system's own shape (Salesforce 18-character ids, HubSpot and
// NetSuite numbers, Odoo serials, Twenty uuids) and every pair linked both ways, so a correction
// can address its target by the other system's id. A share of the CRM's records carries a botched
// value its system holds (`deadLetter`): they cannot be staged, so their counterparts are unverifiable.
import type { Entity } from '../../staging/model/entities.js';
import { type GeneratedRecord, generateTenant } from '../generator/ground-truth.js';
import { REFERENCE_FIELDS } from '../generator/references.js';

/** The canonical customer fields every demo system maps (CRM owns name and phone, ERP currency and credit limit). */
export const DEMO_FIELDS = ['name', 'phone', 'currency', 'credit_limit'] as const;

export type DemoEntity = 'product' | 'order' | 'invoice';
export const DEMO_ENTITIES: readonly DemoEntity[] = ['product', 'order', 'invoice'];

/** The canonical fields the demo's systems hold of each entity (links added per side). */
export const DEMO_ENTITY_FIELDS: Readonly<Record<DemoEntity, readonly string[]>> = {
  product: ['sku', 'name', 'list_price', 'currency', 'active'],
  order: ['number', 'customer_ref', 'order_date', 'currency', 'amount_total'],
  invoice: ['number', 'customer_ref', 'order_ref', 'issue_date', 'due_date', 'currency', 'total', 'balance'],
};

export interface DemoRecords {
  crm: GeneratedRecord[];
  erp: GeneratedRecord[];
}

export interface DemoCustomers extends DemoRecords {
  /** The other entities asked for (`others`), ids and references in each system's own shape. */
  others: Partial<Record<DemoEntity, DemoRecords>>;
}

/** How a system spells the id of generated case `n` (`dup`: the duplicate record of that case). */
export type IdShape = (n: number, dup: boolean) => string;

export const ID_SHAPES = {
  /** Salesforce Account ids: key prefix 001, 18 characters. */
  salesforce: (n: number) => `001DEMO${String(n).padStart(11, '0')}`,
  /** Salesforce Product2, Order and Invoice__c ids (key prefixes 01t, 801 and a01). */
  salesforceProduct: (n: number) => `01tDEMO${String(n).padStart(11, '0')}`,
  salesforceOrder: (n: number) => `801DEMO${String(n).padStart(11, '0')}`,
  salesforceInvoice: (n: number) => `a01DEMO${String(n).padStart(11, '0')}`,
  /** HubSpot company ids and NetSuite internal ids: plain numbers. */
  hubspot: (n: number, dup: boolean) => String((dup ? 500_000 : 100_000) + n),
  netsuite: (n: number, dup: boolean) => String((dup ? 50_000 : 10_000) + n),
  /** Odoo serial ids (new rows get theirs from the sequence, which starts above these). */
  odoo: (n: number, dup: boolean) => String((dup ? 50_000 : 10_000) + n),
  /** Twenty uuids. */
  twenty: (n: number, dup: boolean) =>
    `00000000-0000-4000-${dup ? '9' : '8'}000-${String(n).padStart(12, '0')}`,
  /** Twenty uuids of products, opportunities and invoices (each object its own variant digit). */
  twentyProduct: (n: number, dup: boolean) =>
    `00000000-0000-4000-${dup ? 'b' : 'a'}000-${String(n).padStart(12, '0')}`,
  twentyOrder: (n: number, dup: boolean) =>
    `00000000-0000-4000-${dup ? 'd' : 'c'}000-${String(n).padStart(12, '0')}`,
  twentyInvoice: (n: number, dup: boolean) =>
    `00000000-0000-4000-${dup ? 'f' : 'e'}000-${String(n).padStart(12, '0')}`,
} satisfies Record<string, IdShape>;

/** The first id the Odoo-shaped sequence hands out (above every generated id). */
export const ODOO_FIRST_NEW_ID = 100_000;

export interface OtherEntityOptions {
  crmId: IdShape;
  erpId: IdShape;
  /** The canonical fields both systems hold (default DEMO_ENTITY_FIELDS). */
  fields?: readonly string[];
  /**
   * false: no record only the CRM has (no missing_in_erp), for an ERP that cannot create the
   * entity through its API (a NetSuite item's price is on a sublist the REST record lacks).
   */
  crmOnly?: boolean;
  /**
   * false: no record only the ERP has (no missing_in_crm), for a CRM that cannot create the entity
   * with all its fields (a HubSpot deal's company is an association, which trueup does not write).
   */
  erpOnly?: boolean;
}

export interface DemoDataOptions {
  seed: number;
  count: number;
  currency: string;
  crmId: IdShape;
  erpId: IdShape;
  /** Money tolerance of the tenant (minor units): the generator keeps its edge cases inside it. */
  toleranceMinor?: number;
  /** Share of the CRM's cases it cannot stage (a botched value): their ERP counterparts are unverifiable. */
  crmDeadLetters?: number;
  /** Also `count` records of these entities, with ids in these shapes (references follow them). */
  others?: Partial<Record<DemoEntity, OtherEntityOptions>>;
}

const reshape = (shape: IdShape) => (id: string) => {
  const m = /(\d+)(-dup)?$/.exec(id);
  if (!m) throw new Error(`generated id ${id} has no case number`);
  return shape(Number(m[1]), m[2] !== undefined);
};

export function demoCustomers(o: DemoDataOptions): DemoCustomers {
  const gen = generateTenant({
    tenant: 'demo',
    seed: o.seed,
    counts: {
      customer: o.count,
      product: o.others?.product ? o.count : 0,
      order: o.others?.order ? o.count : 0,
      invoice: o.others?.invoice ? o.count : 0,
      payment: 0,
      subscription: 0,
    },
    currencies: [o.currency],
    ...(o.toleranceMinor ? { overrides: { toleranceMinor: o.toleranceMinor } } : {}),
    ...(o.crmDeadLetters
      ? { deadLetters: { side: 'crm' as const, share: o.crmDeadLetters, entities: ['customer' as const] } }
      : {}),
    // Pairs linked by reference only (the systems' writers address targets by the other's id).
    rates: {
      field_mismatch: 0.3,
      missing_in_erp: 0.08,
      missing_in_crm: 0.08,
      duplicate_match: 0.04,
      deleted_in_one: 0.04,
      xref_only: 0,
      business_key_only: 0,
      // A reference to a record missing on one side would become a mismatch once the demo creates
      // that record: every reference names a linked pair.
      unlinked_reference: 0,
    },
  });
  const shapes: Partial<Record<Entity, { crmId: IdShape; erpId: IdShape }>> = {
    customer: { crmId: o.crmId, erpId: o.erpId },
    ...o.others,
  };
  const pairs = (entity: Entity, fields: readonly string[]) =>
    linkedPairs(gen.entities[entity], fields, entity, shapes);
  const others: DemoCustomers['others'] = {};
  for (const e of DEMO_ENTITIES) {
    const other = o.others?.[e];
    if (!other) continue;
    const generated = gen.entities[e];
    // A CRM-only case is one whose number the ERP side has no record of (duplicates end in -dup).
    const erpCases = new Set(generated.erp.map((r) => r.sourceId.replace(/^E-/, '').replace(/-dup$/, '')));
    const crm =
      other.crmOnly === false
        ? generated.crm.filter((r) => erpCases.has(r.sourceId.replace(/^C-/, '')))
        : generated.crm;
    const crmCases = new Set(generated.crm.map((r) => r.sourceId.replace(/^C-/, '')));
    const erp =
      other.erpOnly === false
        ? generated.erp.filter((r) => crmCases.has(r.sourceId.replace(/^E-/, '').replace(/-dup$/, '')))
        : generated.erp;
    others[e] = linkedPairs({ crm, erp }, other.fields ?? DEMO_ENTITY_FIELDS[e], e, shapes);
  }
  return { ...pairs('customer', DEMO_FIELDS), others };
}

/**
 * One entity's generated records cut to `fields`, with ids in each system's shape and every pair
 * linked both ways through crm_ref / erp_ref (the systems' writers address targets by the other's id).
 */
function linkedPairs(
  gen: { crm: readonly GeneratedRecord[]; erp: readonly GeneratedRecord[] },
  fields: readonly string[],
  entity: Entity,
  shapes: Partial<Record<Entity, { crmId: IdShape; erpId: IdShape }>>,
): DemoRecords {
  const shapeOf = (e: Entity) => {
    const s = shapes[e];
    if (!s) throw new Error(`the demo generates no ${e} records to refer to`);
    return s;
  };
  const crmId = reshape(shapeOf(entity).crmId);
  const erpId = reshape(shapeOf(entity).erpId);
  // A reference holds the referenced record's id in the same system's shape.
  const refs = REFERENCE_FIELDS[entity].filter((r) => fields.includes(r.field));
  const cut = (r: GeneratedRecord, ref: 'crm_ref' | 'erp_ref', id: (s: string) => string) => {
    const out: Record<string, unknown> = {};
    for (const f of fields) out[f] = r.fields[f] ?? null;
    const value = r.fields[ref];
    out[ref] = typeof value === 'string' ? id(value) : null;
    const side = ref === 'erp_ref' ? 'crmId' : 'erpId';
    for (const { field, target } of refs) {
      const v = r.fields[field];
      out[field] = typeof v === 'string' ? reshape(shapeOf(target)[side])(v) : null;
    }
    return { ...r, fields: out };
  };
  const gc = gen.crm;
  const ge = gen.erp;
  const crm = gc.map((r) => ({ ...cut(r, 'erp_ref', erpId), sourceId: crmId(r.sourceId) }));
  const erp = ge.map((r) => ({ ...cut(r, 'crm_ref', crmId), sourceId: erpId(r.sourceId) }));
  linkBothWays(gc, ge, crm, erp);
  return { crm, erp };
}

/**
 * Sets the direct keys of every generated pair (C-…-n / E-…-n) both ways in the reshaped records
 * `crm`/`erp` (same order as the generated `gc`/`ge`), unless the ERP side is duplicated
 * (E-…-n-dup): a tenant whose systems hold each other's ids.
 */
export function linkBothWays(
  gc: readonly GeneratedRecord[],
  ge: readonly GeneratedRecord[],
  crm: GeneratedRecord[],
  erp: GeneratedRecord[],
): void {
  const dup = new Set(ge.filter((r) => r.sourceId.endsWith('-dup')).map((r) => r.sourceId.slice(0, -4)));
  const crmAt = new Map(gc.map((r, i) => [r.sourceId.replace(/^C-/, ''), i]));
  ge.forEach((r, i) => {
    const k = crmAt.get(r.sourceId.replace(/^E-/, ''));
    if (k === undefined || r.sourceId.endsWith('-dup') || dup.has(r.sourceId)) return;
    crm[k]!.fields.erp_ref = erp[i]!.sourceId;
    erp[i]!.fields.crm_ref = crm[k]!.sourceId;
  });
}

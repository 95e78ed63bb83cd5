// The demo's data: a tenant's customers from the ground-truth generator (every discrepancy class:
// mismatches, records missing on either side, duplicates, deletes), cut to the fields the demo's
// systems hold, with ids in each system's own shape (Salesforce 18-character ids, HubSpot and
// NetSuite numbers, Odoo serials, Twenty uuids) and every pair linked both ways, so a correction
// can address its target by the other system's id. A share of the CRM's records carries a botched
// value its system holds (`deadLetter`): they cannot be staged, so their counterparts are unverifiable.
import { type GeneratedRecord, generateTenant } from '../generator/ground-truth.js';

/** The canonical customer fields every demo system maps (CRM owns name and phone, ERP currency and credit limit). */
export const DEMO_FIELDS = ['name', 'phone', 'currency', 'credit_limit'] as const;

export interface DemoCustomers {
  crm: GeneratedRecord[];
  erp: GeneratedRecord[];
}

/** How a system spells the id of generated case `n` (`dup`: the duplicate record of that case). */
export type IdShape = (n: number, dup: boolean) => string;

export const ID_SHAPES = {
  /** Salesforce Account ids: key prefix 001, 18 characters. */
  salesforce: (n: number) => `001DEMO${String(n).padStart(11, '0')}`,
  /** HubSpot company ids and NetSuite internal ids: plain numbers. */
  hubspot: (n: number, dup: boolean) => String((dup ? 500_000 : 100_000) + n),
  netsuite: (n: number, dup: boolean) => String((dup ? 50_000 : 10_000) + n),
  /** Odoo serial ids (new rows get theirs from the sequence, which starts above these). */
  odoo: (n: number, dup: boolean) => String((dup ? 50_000 : 10_000) + n),
  /** Twenty uuids. */
  twenty: (n: number, dup: boolean) =>
    `00000000-0000-4000-${dup ? '9' : '8'}000-${String(n).padStart(12, '0')}`,
} satisfies Record<string, IdShape>;

/** The first id the Odoo-shaped sequence hands out (above every generated id). */
export const ODOO_FIRST_NEW_ID = 100_000;

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
    counts: { customer: o.count, product: 0, order: 0, invoice: 0, payment: 0, subscription: 0 },
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
    },
  });
  const crmId = reshape(o.crmId);
  const erpId = reshape(o.erpId);
  const cut = (r: GeneratedRecord, ref: 'crm_ref' | 'erp_ref', id: (s: string) => string) => {
    const fields: Record<string, unknown> = {};
    for (const f of DEMO_FIELDS) fields[f] = r.fields[f] ?? null;
    const value = r.fields[ref];
    fields[ref] = typeof value === 'string' ? id(value) : null;
    return { ...r, fields };
  };
  const gc = gen.entities.customer.crm;
  const ge = gen.entities.customer.erp;
  const crm = gc.map((r) => ({ ...cut(r, 'erp_ref', erpId), sourceId: crmId(r.sourceId) }));
  const erp = ge.map((r) => ({ ...cut(r, 'crm_ref', crmId), sourceId: erpId(r.sourceId) }));
  // A pair is C-…-n / E-…-n: linked both ways, unless the ERP side is duplicated (E-…-n-dup).
  const dup = new Set(ge.filter((r) => r.sourceId.endsWith('-dup')).map((r) => r.sourceId.slice(0, -4)));
  const crmAt = new Map(gc.map((r, i) => [r.sourceId.replace(/^C-/, ''), i]));
  ge.forEach((r, i) => {
    const k = crmAt.get(r.sourceId.replace(/^E-/, ''));
    if (k === undefined || r.sourceId.endsWith('-dup') || dup.has(r.sourceId)) return;
    crm[k]!.fields.erp_ref = erp[i]!.sourceId;
    erp[i]!.fields.crm_ref = crm[k]!.sourceId;
  });
  return { crm, erp };
}

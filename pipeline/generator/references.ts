// References in generated data, as real tenants have them (issue 12): each system refers with its
// own ids — a CRM invoice's customer_ref is a CRM customer id (`C-cus-7`), the ERP invoice's the ERP
// customer number (`E-cus-7`) — to a customer case whose two records are linked. When the referenced
// entity is not generated — `counts` gives it 0, or gives counts without naming it (a test that
// stages customers and invoices only) — both sides keep the same opaque value, as before.
// Whether a reference is then equal, a mismatch or unverifiable follows from the referenced cases:
// how they are linked, and whether the "mapping gone wrong" profile dead-lettered one of them.
import { ENTITIES, type Entity } from '../../staging/model/entities.js';
import { type CaseSpace, DEFAULT_COUNTS, drawCase, isDeadLettered, LIVE_PAIR_KINDS } from './cases.js';
import { PROFILES } from './entity-profiles.js';
import { mix, Rng } from './prng.js';

/**
 * The reference fields of each entity: the same table as reconcilers/compare/reference-fields.ts
 * (a test checks it), kept here because the generator sits below the reconcilers.
 */
export const REFERENCE_FIELDS: Readonly<
  Record<Entity, readonly { field: string; target: Entity; list: boolean }[]>
> = Object.freeze({
  customer: [],
  product: [],
  order: [{ field: 'customer_ref', target: 'customer', list: false }],
  invoice: [
    { field: 'customer_ref', target: 'customer', list: false },
    { field: 'order_ref', target: 'order', list: false },
  ],
  payment: [
    { field: 'customer_ref', target: 'customer', list: false },
    { field: 'applied_invoices', target: 'invoice', list: true },
  ],
  subscription: [{ field: 'customer_ref', target: 'customer', list: false }],
});

export const crmIdOf = (entity: Entity, n: number) => `C-${PROFILES[entity].prefix}-${n}`;
export const erpIdOf = (entity: Entity, n: number) => `E-${PROFILES[entity].prefix}-${n}`;

/** One reference field of a case: the referenced case on each side (null: the opaque value). */
export interface PlannedReference {
  field: string;
  target: Entity;
  list: boolean;
  /** The referenced case of the CRM side and of the ERP side; equal unless `unlinked`. */
  crm: number;
  erp: number;
  /** The two sides name a CRM-only and an ERP-only record (rate unlinked_reference). */
  unlinked: boolean;
}

/** The value a side stores for a referenced case. */
export function referenceValue(r: Pick<PlannedReference, 'target' | 'list'>, side: 'crm' | 'erp', k: number) {
  const id = side === 'crm' ? crmIdOf(r.target, k) : erpIdOf(r.target, k);
  return r.list ? [id] : id;
}

/** A case of `target` of one of `kinds`, from a random start, other than `not` (null: none near). */
function findCase(
  space: CaseSpace,
  target: Entity,
  rng: Rng,
  kinds: readonly string[],
  not?: number,
): number | null {
  const count = space.counts ? (space.counts[target] ?? 0) : DEFAULT_COUNTS[target];
  if (!count) return null;
  const start = rng.int(0, count - 1);
  for (let i = 0; i < Math.min(count, 500); i++) {
    const k = (start + i) % count;
    if (k !== not && kinds.includes(drawCase(space, target, k).kind)) return k;
  }
  return null;
}

/** The stream of the references of case `n` (its own: the case's other draws stay as they were). */
export const referenceRng = (space: CaseSpace, entity: Entity, n: number) =>
  new Rng(mix(space.seed ^ 0x5ef5, ENTITIES.indexOf(entity), n));

/**
 * The references of case `n` of `entity`: a linked case of the referenced entity, or for a live
 * pair at rate unlinked_reference a CRM-only and an ERP-only one. Fields whose entity is not
 * generated are left out (they keep the shared opaque value).
 */
export function planReferences(
  space: CaseSpace,
  entity: Entity,
  rng: Rng,
  livePair: boolean,
): PlannedReference[] {
  const out: PlannedReference[] = [];
  for (const r of REFERENCE_FIELDS[entity]) {
    if (livePair && rng.chance(space.rates.unlinked_reference)) {
      const crm = findCase(space, r.target, rng, ['missing_in_erp']);
      const erp = findCase(space, r.target, rng, ['missing_in_crm']);
      if (crm !== null && erp !== null) {
        out.push({ ...r, crm, erp, unlinked: true });
        continue;
      }
    }
    const k = findCase(space, r.target, rng, LIVE_PAIR_KINDS);
    if (k !== null) out.push({ ...r, crm: k, erp: k, unlinked: false });
  }
  return out;
}

/** Another linked case of the reference's entity for one side (a reference to another record). */
export function otherCase(space: CaseSpace, r: PlannedReference, rng: Rng): number | null {
  return findCase(space, r.target, rng, LIVE_PAIR_KINDS, r.crm);
}

/**
 * Whether the record a side refers to (case `k` of `target`) is linked to some record of the
 * other system, as reconciliation sees it: a linked pair is, unless the profile dead-lettered one
 * of its records and the link was known only through that record (its direct key, or its business
 * key, which no run could match).
 */
export function linkedTarget(space: CaseSpace, target: Entity, k: number): boolean {
  const c = drawCase(space, target, k);
  if (!LIVE_PAIR_KINDS.includes(c.kind)) return false;
  if (!isDeadLettered(space, target, k)) return true;
  if (c.link === 'xref') return true;
  if (c.link !== 'direct' || c.directV === null) return false;
  // < 0.6 both sides hold the other's id, < 0.8 only the ERP record, else only the CRM record.
  return space.deadLetters!.side === 'crm' ? c.directV < 0.8 : c.directV < 0.6 || c.directV >= 0.8;
}

/** What reconciliation makes of a reference naming case `crm` on the CRM side and `erp` on the ERP side. */
export function referenceVerdict(
  space: CaseSpace,
  target: Entity,
  crm: number,
  erp: number,
): 'equal' | 'mismatch' | 'unverifiable' {
  if (!linkedTarget(space, target, crm) || !linkedTarget(space, target, erp)) return 'unverifiable';
  return crm === erp ? 'equal' : 'mismatch';
}

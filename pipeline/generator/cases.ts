// The cases of the ground-truth generator: the rates at which each kind of case is drawn, and the
// draws that decide a case (its currency, kind, base values, times and how the pair is linked).
// Every case draws from its own PRNG stream, so any case can be drawn again on its own — which the
// references of other entities do (references.ts: an invoice points at a customer that is linked,
// and knows how) — and the "mapping gone wrong" profile, which dead-letters a share of one side.
import { ENTITIES, type Entity } from '../../staging/model/entities.js';
import { baseFields, PROFILES } from './entity-profiles.js';
import { mix, Rng } from './prng.js';

/** Probabilities per generated case (each index yields one case). */
export interface GeneratorRates {
  missing_in_erp: number;
  missing_in_crm: number;
  field_mismatch: number;
  duplicate_match: number;
  deleted_in_one: number;
  /** Clean pairs carrying tolerance edge cases that must not be reported. */
  edge_cases: number;
  /** Pairs linked only by the business key (normalised), and only by xref. */
  business_key_only: number;
  xref_only: number;
  /** Not reported either: both sides deleted, a lone deleted record. */
  both_deleted: number;
  lone_deleted: number;
  /**
   * Per reference of a live pair (customer_ref, order_ref, applied_invoices): the two sides name
   * records that are not linked to each other yet (a CRM-only and an ERP-only customer), which is
   * `unverifiable`. Default 0.
   */
  unlinked_reference: number;
}

export const DEFAULT_RATES: Readonly<GeneratorRates> = Object.freeze({
  missing_in_erp: 0.02,
  missing_in_crm: 0.02,
  field_mismatch: 0.06,
  duplicate_match: 0.01,
  deleted_in_one: 0.015,
  edge_cases: 0.15,
  business_key_only: 0.1,
  xref_only: 0.05,
  both_deleted: 0.005,
  lone_deleted: 0.005,
  unlinked_reference: 0,
});

export const DEFAULT_COUNTS: Readonly<Record<Entity, number>> = Object.freeze({
  customer: 300,
  product: 80,
  order: 250,
  invoice: 250,
  payment: 150,
  subscription: 100,
});

/**
 * The "mapping gone wrong" profile: a share of one side's records cannot be staged. They are staged
 * with a value the mapping botched (an amount as "1.234,56 €"), so the write path dead-letters them
 * with the rest of the change (source id, direct and business keys) intact.
 */
export interface DeadLetterProfile {
  side: 'crm' | 'erp';
  /** Share of that side's cases dead-lettered, 0–1. */
  share: number;
  /** Entities affected (default: all). */
  entities?: readonly Entity[];
}

/** What decides the cases of a tenant. */
export interface CaseSpace {
  seed: number;
  counts?: Partial<Record<Entity, number>>;
  rates: GeneratorRates;
  currencies?: string[];
  deadLetters?: DeadLetterProfile;
}

export type CaseKind = Exclude<keyof GeneratorRates, 'unlinked_reference'> | 'clean';

/** Kinds whose two records are live and linked to each other. */
export const LIVE_PAIR_KINDS: readonly CaseKind[] = ['clean', 'field_mismatch', 'edge_cases'];

export const countOf = (space: CaseSpace, entity: Entity) => space.counts?.[entity] ?? DEFAULT_COUNTS[entity];

function pickCase(rng: Rng, rates: GeneratorRates): CaseKind {
  const order: CaseKind[] = [
    'missing_in_erp',
    'missing_in_crm',
    'duplicate_match',
    'deleted_in_one',
    'field_mismatch',
    'edge_cases',
    'both_deleted',
    'lone_deleted',
  ];
  let r = rng.next();
  for (const k of order) {
    const rate = rates[k as keyof GeneratorRates];
    if (r < rate) return k;
    r -= rate;
  }
  return 'clean';
}

/** A case as its first draws decide it; `rng` goes on where they stopped. */
export interface DrawnCase {
  rng: Rng;
  currency: string;
  kind: CaseKind;
  base: Record<string, unknown>;
  /** Base time and the two sides' update times (ms). */
  t: number;
  crmT: number;
  erpT: number;
  /** How the pair is linked; for a direct link, which sides hold the other's id (`directV`). */
  link: 'direct' | 'bkey' | 'xref';
  /** < 0.6: both sides; < 0.8: only the ERP's crm_ref; else only the CRM's erp_ref. Null: no link drawn. */
  directV: number | null;
}

const BASE_TIME = Date.UTC(2024, 0, 1);

/** Kinds that return before the pair is linked (ground-truth.ts generateCase). */
const UNLINKED_KINDS: readonly CaseKind[] = [
  'missing_in_erp',
  'missing_in_crm',
  'lone_deleted',
  'duplicate_match',
];

/** The first draws of case `n` of `entity`, exactly as generating it makes them. */
export function drawCase(space: CaseSpace, entity: Entity, n: number): DrawnCase {
  const profile = PROFILES[entity];
  const rng = new Rng(mix(space.seed, ENTITIES.indexOf(entity), n));
  const currency = rng.pick(space.currencies ?? ['USD', 'EUR', 'JPY', 'BHD']);
  const kind = pickCase(rng, space.rates);
  const base = baseFields(entity, n, rng, currency);
  const t = BASE_TIME + n * 1000 + rng.int(0, 86_400) * 1000;
  const crmT = t + rng.int(0, 3_600_000);
  const erpT = t + rng.int(0, 3_600_000);
  // Deleted and duplicate cases use direct refs (tombstones take part in explicit links only;
  // business keys match live records).
  let link: DrawnCase['link'] = 'direct';
  const lr = rng.next();
  if (!['deleted_in_one', 'both_deleted', 'duplicate_match'].includes(kind)) {
    if (profile.businessKey && lr < space.rates.business_key_only) link = 'bkey';
    else if (lr < space.rates.business_key_only + space.rates.xref_only) link = 'xref';
  }
  const directV = link === 'direct' && !UNLINKED_KINDS.includes(kind) ? rng.next() : null;
  return { rng, currency, kind, base, t, crmT, erpT, link, directV };
}

/** Whether the profile dead-letters case `n` of `entity` (its records on the profile's side). */
export function isDeadLettered(space: CaseSpace, entity: Entity, n: number): boolean {
  const p = space.deadLetters;
  if (!p || p.share <= 0 || (p.entities && !p.entities.includes(entity))) return false;
  return new Rng(mix(space.seed ^ 0x0d1e7e7, ENTITIES.indexOf(entity), n)).chance(p.share);
}

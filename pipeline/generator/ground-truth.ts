// The ground-truth generator: a tenant's CRM and ERP data for all six entities with known
// discrepancies of every class injected at given rates, plus the truth list of what a correct
// reconciliation must report — and tolerance edge cases that it must NOT report (0.004 rounding
// on a 2-decimal currency, `ACME  CORP ` vs `Acme Corp`, CRM enum spellings behind a value map,
// '' vs null). Deterministic from the seed: every record draws from its own PRNG stream, so
// `generateEntityChunks` can stream millions of rows in slices that equal a one-shot run.
// References hold each system's own ids (references.ts), and the "mapping gone wrong" profile
// (`deadLetters`) dead-letters a share of one side's records: their counterparts are then
// `unverifiable`, never `missing_in_*` (issue 12).

import type { DiscrepancyClass } from '../../staging/control/discrepancy-states.js';
import { ENTITIES, ENTITY_FIELDS, type Entity, type FieldDef } from '../../staging/model/entities.js';
import { fromMinorUnits, minorUnits, toMinorUnits } from '../../staging/model/money.js';
import {
  type CaseSpace,
  DEFAULT_COUNTS,
  DEFAULT_RATES,
  type DeadLetterProfile,
  drawCase,
  type GeneratorRates,
  isDeadLettered,
  LIVE_PAIR_KINDS,
} from './cases.js';
import { differentValue, moneyFields, PROFILES } from './entity-profiles.js';
import { type GeneratorOverrides, generatorTenantConfig } from './generator-config.js';
import type { Rng } from './prng.js';
import {
  otherCase,
  type PlannedReference,
  planReferences,
  REFERENCE_FIELDS,
  referenceRng,
  referenceValue,
  referenceVerdict,
} from './references.js';

export type { DiscrepancyClass } from '../../staging/control/discrepancy-states.js';
export { DEFAULT_COUNTS, DEFAULT_RATES, type DeadLetterProfile, type GeneratorRates } from './cases.js';
export { type GeneratorOverrides, generatorTenantConfig } from './generator-config.js';

/** A record in canonical form. Deleted records keep their last fields; `version` is the delete's. */
export interface GeneratedRecord {
  sourceId: string;
  version: bigint;
  fields: Record<string, unknown>;
  updatedAt: string;
  deleted?: boolean;
  /**
   * The "mapping gone wrong" profile could not stage it: stage-generated.ts stages it with a
   * botched amount, so the write path dead-letters it (its `fields` are what a fixed mapping gives).
   */
  deadLetter?: boolean;
}

/** One discrepancy a correct reconciliation reports. `field` is '' except for field_mismatch. */
export interface TruthItem {
  class: DiscrepancyClass;
  entity: Entity;
  /** `C:<crmId>|E:<erpId>` for a matched pair, `C:<crmId>` or `E:<erpId>` for a lone or duplicated record. */
  matchKey: string;
  field: string;
  crmId: string | null;
  erpId: string | null;
}

export interface XrefPair {
  crmId: string;
  erpId: string;
}

export interface GeneratedChunk {
  entity: Entity;
  crm: GeneratedRecord[];
  erp: GeneratedRecord[];
  /** Links that only the xref table knows (no direct ref, no business key). */
  xref: XrefPair[];
  truth: TruthItem[];
}

export type GeneratedEntity = GeneratedChunk;

export interface GenerateOptions {
  tenant: string;
  seed: number;
  counts?: Partial<Record<Entity, number>>;
  rates?: Partial<GeneratorRates>;
  /** ISO 4217 codes drawn per record. Default USD, EUR, JPY (0 decimals), BHD (3). */
  currencies?: string[];
  overrides?: GeneratorOverrides;
  /** System names of the CRM and ERP side. Default "crm" and "erp". */
  systems?: { crm: string; erp: string };
  /** The "mapping gone wrong" profile: a share of one side's records is dead-lettered. */
  deadLetters?: DeadLetterProfile;
}

export interface GeneratedTenant {
  tenant: string;
  seed: number;
  systems: { crm: string; erp: string };
  entities: Record<Entity, GeneratedEntity>;
  truth: TruthItem[];
  /** A tenant config (raw, before validation) under which the truth is exactly what must be reported. */
  config: Record<string, unknown>;
}

const NON_MUTABLE = new Set(['crm_ref', 'erp_ref', 'currency']);

/** What decides the cases of a tenant (cases.ts). */
export const caseSpace = (opts: GenerateOptions): CaseSpace => ({
  seed: opts.seed,
  rates: { ...DEFAULT_RATES, ...opts.rates },
  ...(opts.counts ? { counts: opts.counts } : {}),
  ...(opts.currencies ? { currencies: opts.currencies } : {}),
  ...(opts.deadLetters ? { deadLetters: opts.deadLetters } : {}),
});

export function generateTenant(opts: GenerateOptions): GeneratedTenant {
  const entities = {} as Record<Entity, GeneratedEntity>;
  const truth: TruthItem[] = [];
  for (const entity of ENTITIES) {
    const all: GeneratedEntity = { entity, crm: [], erp: [], xref: [], truth: [] };
    for (const chunk of generateEntityChunks(opts, entity)) {
      all.crm.push(...chunk.crm);
      all.erp.push(...chunk.erp);
      all.xref.push(...chunk.xref);
      all.truth.push(...chunk.truth);
    }
    entities[entity] = all;
    truth.push(...all.truth);
  }
  const systems = opts.systems ?? { crm: 'crm', erp: 'erp' };
  return {
    tenant: opts.tenant,
    seed: opts.seed,
    systems,
    entities,
    truth,
    config: generatorTenantConfig(opts),
  };
}

/** Streams one entity in chunks of `chunkSize` cases (indexes `from` ≤ n < `to`). */
export function* generateEntityChunks(
  opts: GenerateOptions,
  entity: Entity,
  range: { chunkSize?: number; from?: number; to?: number } = {},
): Generator<GeneratedChunk> {
  const count = opts.counts?.[entity] ?? DEFAULT_COUNTS[entity];
  const size = range.chunkSize ?? 10_000;
  const end = Math.min(range.to ?? count, count);
  for (let start = range.from ?? 0; start < end; start += size) {
    const chunk: GeneratedChunk = { entity, crm: [], erp: [], xref: [], truth: [] };
    for (let n = start; n < Math.min(end, start + size); n++) generateCase(opts, entity, n, chunk);
    yield chunk;
  }
}

function generateCase(opts: GenerateOptions, entity: Entity, n: number, out: GeneratedChunk): void {
  const space = caseSpace(opts);
  const marks = { crm: out.crm.length, erp: out.erp.length, truth: out.truth.length };
  generateRecords(opts, space, entity, n, out);
  if (isDeadLettered(space, entity, n)) deadLetterCase(space.deadLetters!.side, entity, out, marks);
}

/**
 * The profile dead-letters this case's records on its side: they are not staged (only their
 * botched change, as a dead letter), and what the case's truth said no longer holds. A live record
 * left on the other side is linked to the dead letter — by its direct key either way, xref or the
 * business key the dead-lettered change still carries — so it is `unverifiable`, not missing.
 */
function deadLetterCase(
  side: 'crm' | 'erp',
  entity: Entity,
  out: GeneratedChunk,
  marks: { crm: number; erp: number; truth: number },
): void {
  // Tombstones are staged as they are: a replay of the letters then gives exactly the data a
  // profile-less generation stages.
  const dead = out[side].slice(marks[side]).filter((r) => !r.deleted);
  if (!dead.length) return;
  for (const r of dead) r.deadLetter = true;
  out.truth.length = marks.truth;
  const other = side === 'crm' ? 'erp' : 'crm';
  for (const r of out[other].slice(marks[other])) {
    if (r.deleted) continue;
    out.truth.push({
      class: 'unverifiable',
      entity,
      matchKey: other === 'crm' ? `C:${r.sourceId}` : `E:${r.sourceId}`,
      field: '',
      crmId: other === 'crm' ? r.sourceId : null,
      erpId: other === 'erp' ? r.sourceId : null,
    });
  }
}

/** The records, xref links and truth of one case. */
function generateRecords(
  opts: GenerateOptions,
  space: CaseSpace,
  entity: Entity,
  n: number,
  out: GeneratedChunk,
): void {
  const ov = opts.overrides ?? {};
  const valueMaps = ov.valueMaps ?? true;
  const tol = ov.toleranceMinor ?? 0;
  const profile = PROFILES[entity];
  const drawn = drawCase(space, entity, n);
  const { rng, currency, kind, base, crmT, erpT, link } = drawn;
  const crmId = `C-${profile.prefix}-${n}`;
  const erpId = `E-${profile.prefix}-${n}`;
  const pairKey = `C:${crmId}|E:${erpId}`;

  const crm = { ...base };
  const erp = { ...base };
  const enumF = profile.enumField.field;
  const spell = (canonical: unknown) =>
    valueMaps && typeof canonical === 'string'
      ? (profile.enumField.values[canonical] ?? canonical)
      : canonical;
  crm[enumF] = spell(crm[enumF]);
  // References in each system's own ids (from their own stream: the case's draws stay as they were).
  const refRng = referenceRng(space, entity, n);
  const refs = planReferences(space, entity, refRng, LIVE_PAIR_KINDS.includes(kind));
  for (const r of refs) {
    crm[r.field] = referenceValue(r, 'crm', r.crm);
    erp[r.field] = referenceValue(r, 'erp', r.erp);
  }
  const refOf = new Map<string, PlannedReference>(refs.map((r) => [r.field, r]));
  /** Reference fields compared as references (not the shared opaque values of an entity not generated). */
  const refFields = new Set(REFERENCE_FIELDS[entity].map((r) => r.field));

  const rec = (
    sourceId: string,
    fields: Record<string, unknown>,
    ms: number,
    deleted = false,
  ): GeneratedRecord => ({
    sourceId,
    version: BigInt(ms) * 1000n + (deleted ? 1n : 0n),
    fields,
    updatedAt: new Date(ms).toISOString(),
    ...(deleted ? { deleted: true } : {}),
  });
  const truth = (
    cls: DiscrepancyClass,
    key: string,
    field = '',
    c: string | null = crmId,
    e: string | null = erpId,
  ) => out.truth.push({ class: cls, entity, matchKey: key, field, crmId: c, erpId: e });

  const applyLink = () => {
    if (link === 'direct') {
      const v = drawn.directV!;
      if (v < 0.6 || v >= 0.8) crm.erp_ref = erpId;
      if (v < 0.8) erp.crm_ref = crmId;
    } else if (link === 'bkey' && profile.businessKey) {
      const f = profile.businessKey.field;
      crm[f] =
        profile.businessKey.normalise === 'email'
          ? `  ${String(crm[f]).toUpperCase()} `
          : `${String(crm[f]).toLowerCase()} `;
    } else if (link === 'xref') out.xref.push({ crmId, erpId });
  };

  switch (kind) {
    case 'missing_in_erp':
      out.crm.push(rec(crmId, crm, crmT));
      truth('missing_in_erp', `C:${crmId}`, '', crmId, null);
      return;
    case 'missing_in_crm':
      out.erp.push(rec(erpId, erp, erpT));
      truth('missing_in_crm', `E:${erpId}`, '', null, erpId);
      return;
    case 'lone_deleted':
      if (rng.chance(0.5)) out.crm.push(rec(crmId, crm, crmT, true));
      else out.erp.push(rec(erpId, erp, erpT, true));
      return;
    case 'duplicate_match': {
      const second = { ...erp, crm_ref: crmId };
      erp.crm_ref = crmId;
      out.crm.push(rec(crmId, crm, crmT));
      out.erp.push(rec(erpId, erp, erpT), rec(`${erpId}-dup`, second, erpT + 1000));
      truth('duplicate_match', `C:${crmId}`, '', crmId, null);
      return;
    }
    default:
      break;
  }
  applyLink();
  let crmDeleted = false;
  let erpDeleted = false;
  if (kind === 'deleted_in_one') {
    if (rng.chance(0.5)) crmDeleted = true;
    else erpDeleted = true;
    truth('deleted_in_one', pairKey);
  } else if (kind === 'both_deleted') {
    crmDeleted = true;
    erpDeleted = true;
  } else if (kind === 'field_mismatch') {
    // A reference of an entity not generated, or one already naming unlinked records, is not
    // chosen: the first would be unverifiable, the second is already.
    const candidates = ENTITY_FIELDS[entity].filter(
      (d) =>
        !NON_MUTABLE.has(d.name) &&
        d.name !== profile.businessKey?.field &&
        (!refFields.has(d.name) || refOf.get(d.name)?.unlinked === false),
    );
    const k = rng.chance(0.3) ? 2 : 1;
    const chosen = new Set<FieldDef>();
    while (chosen.size < k) chosen.add(rng.pick(candidates));
    for (const d of chosen) {
      const side = rng.chance(0.5) ? crm : erp;
      const r = refOf.get(d.name);
      if (d.name === enumF) {
        const others = Object.keys(profile.enumField.values).filter((v) => v !== base[enumF]);
        const v = rng.pick(others);
        side[enumF] = side === crm ? spell(v) : v;
      } else if (d.type === 'text' && rng.chance(0.2)) {
        side[d.name] = null;
        // One side without a reference: an ordinary difference, nothing to look up.
        if (r) refOf.delete(d.name);
      } else if (r) {
        // One side refers to another record (an invoice attached to another customer).
        differentValue(d, base[d.name], rng, currency, tol);
        const k2 = otherCase(space, r, refRng);
        if (k2 === null) continue;
        const s = side === crm ? 'crm' : 'erp';
        side[d.name] = referenceValue(r, s, k2);
        r[s] = k2;
        continue;
      } else side[d.name] = differentValue(d, base[d.name], rng, currency, tol);
      truth('field_mismatch', pairKey, d.name);
    }
  } else if (kind === 'edge_cases') {
    applyEdgeCases(entity, rng, crm, erp, currency, tol, refFields);
  }
  // What the references of a live pair come to: equal, another record, or not verifiable.
  if (LIVE_PAIR_KINDS.includes(kind))
    for (const r of refOf.values()) {
      const verdict = referenceVerdict(space, r.target, r.crm, r.erp);
      if (verdict === 'mismatch') truth('field_mismatch', pairKey, r.field);
      else if (verdict === 'unverifiable') truth('unverifiable', pairKey, r.field);
    }
  out.crm.push(rec(crmId, crm, crmT, crmDeleted));
  out.erp.push(rec(erpId, erp, erpT, erpDeleted));
}

/** Differences every configured comparator must treat as equal. Mutates the CRM side (and the ERP side for '' vs null). */
function applyEdgeCases(
  entity: Entity,
  rng: Rng,
  crm: Record<string, unknown>,
  erp: Record<string, unknown>,
  currency: string,
  tol: number,
  refFields: ReadonlySet<string>,
): void {
  const profile = PROFILES[entity];
  const money = moneyFields(entity);
  // References are ids: a case-folded id names no record (it would be unverifiable).
  const texts = ENTITY_FIELDS[entity].filter(
    (d) =>
      d.type === 'text' &&
      !NON_MUTABLE.has(d.name) &&
      !refFields.has(d.name) &&
      d.name !== profile.enumField.field &&
      d.name !== profile.businessKey?.field &&
      typeof crm[d.name] === 'string',
  );
  const m = rng.pick(money);
  // Rounding: tolerance plus 0.4 of a minor unit more (100.004 vs 100.00 in USD, 1200.4 vs 1200 in JPY).
  const scale = minorUnits(currency);
  const minor = toMinorUnits(String(crm[m.name]), currency);
  const shifted = (minor + BigInt(tol)) * 10n + 4n;
  crm[m.name] = `${fromMinorUnits(shifted / 10n, currency)}${scale === 0 ? '.' : ''}4`;
  if (texts.length) {
    const tf = rng.pick(texts);
    const v = String(crm[tf.name]);
    if (rng.chance(0.5)) crm[tf.name] = `${v.toUpperCase().replaceAll(' ', '  ')} `;
    else crm[tf.name] = ` ${v.toLowerCase()}`;
  }
  const nullable = texts.filter((d) => d.name === 'website' || d.name === 'phone' || d.name === 'legal_name');
  if (nullable.length && rng.chance(0.5)) {
    // '' on one side and null on the other: equal by the default null equivalences.
    const d = rng.pick(nullable);
    crm[d.name] = '';
    erp[d.name] = null;
  }
}

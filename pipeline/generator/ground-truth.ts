// The ground-truth generator: a tenant's CRM and ERP data for all six entities with known
// discrepancies of every class injected at given rates, plus the truth list of what a correct
// reconciliation must report — and tolerance edge cases that it must NOT report (0.004 rounding
// on a 2-decimal currency, `ACME  CORP ` vs `Acme Corp`, CRM enum spellings behind a value map,
// '' vs null). Deterministic from the seed: every record draws from its own PRNG stream, so
// `generateEntityChunks` can stream millions of rows in slices that equal a one-shot run.

import { ENTITIES, ENTITY_FIELDS, type Entity, type FieldDef } from '../../staging/model/entities.js';
import { fromMinorUnits, minorUnits, toMinorUnits } from '../../staging/model/money.js';
import type { SurvivorshipRule } from '../config/schema.js';
import { baseFields, differentValue, moneyFields, PROFILES } from './entity-profiles.js';
import { mix, Rng } from './prng.js';

export type DiscrepancyClass =
  | 'missing_in_erp'
  | 'missing_in_crm'
  | 'field_mismatch'
  | 'duplicate_match'
  | 'deleted_in_one';

/** A record in canonical form. Deleted records keep their last fields; `version` is the delete's. */
export interface GeneratedRecord {
  sourceId: string;
  version: bigint;
  fields: Record<string, unknown>;
  updatedAt: string;
  deleted?: boolean;
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
});

export const DEFAULT_COUNTS: Readonly<Record<Entity, number>> = Object.freeze({
  customer: 300,
  product: 80,
  order: 250,
  invoice: 250,
  payment: 150,
  subscription: 100,
});

export interface GeneratorOverrides {
  /** Money tolerance in minor units set on every money field; edge cases sit just inside it. Default 0. */
  toleranceMinor?: number;
  /** CRM spells enum values its own way ("Net 30") and the config maps them. Default true. */
  valueMaps?: boolean;
  /** Survivorship rules per entity and field (owners, most_recent, …) put into the tenant config. */
  survivorship?: Partial<Record<Entity, Record<string, SurvivorshipRule>>>;
  /** Tenant materiality threshold. Default "100". */
  materialityThreshold?: string;
  /** Tenant action policy allows creating missing records. Default true. */
  createMissing?: boolean;
}

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

const BASE_TIME = Date.UTC(2024, 0, 1);
const NON_MUTABLE = new Set(['crm_ref', 'erp_ref', 'currency']);

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

type CaseKind = keyof GeneratorRates | 'clean';

function pickCase(rng: Rng, rates: GeneratorRates): CaseKind {
  const order: (keyof GeneratorRates)[] = [
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
    if (r < rates[k]) return k;
    r -= rates[k];
  }
  return 'clean';
}

function generateCase(opts: GenerateOptions, entity: Entity, n: number, out: GeneratedChunk): void {
  const rates = { ...DEFAULT_RATES, ...opts.rates };
  const ov = opts.overrides ?? {};
  const valueMaps = ov.valueMaps ?? true;
  const tol = ov.toleranceMinor ?? 0;
  const profile = PROFILES[entity];
  const rng = new Rng(mix(opts.seed, ENTITIES.indexOf(entity), n));
  const currency = rng.pick(opts.currencies ?? ['USD', 'EUR', 'JPY', 'BHD']);
  const crmId = `C-${profile.prefix}-${n}`;
  const erpId = `E-${profile.prefix}-${n}`;
  const pairKey = `C:${crmId}|E:${erpId}`;
  const kind = pickCase(rng, rates);

  const base = baseFields(entity, n, rng, currency);
  const crm = { ...base };
  const erp = { ...base };
  const enumF = profile.enumField.field;
  const spell = (canonical: unknown) =>
    valueMaps && typeof canonical === 'string'
      ? (profile.enumField.values[canonical] ?? canonical)
      : canonical;
  crm[enumF] = spell(crm[enumF]);

  const t = BASE_TIME + n * 1000 + rng.int(0, 86_400) * 1000;
  const crmT = t + rng.int(0, 3_600_000);
  const erpT = t + rng.int(0, 3_600_000);
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

  // How the pair is linked. Deleted and duplicate cases use direct refs (tombstones take part in
  // explicit links only; business keys match live records).
  let link: 'direct' | 'bkey' | 'xref' = 'direct';
  const lr = rng.next();
  if (!['deleted_in_one', 'both_deleted', 'duplicate_match'].includes(kind)) {
    if (profile.businessKey && lr < rates.business_key_only) link = 'bkey';
    else if (lr < rates.business_key_only + rates.xref_only) link = 'xref';
  }
  const applyLink = () => {
    if (link === 'direct') {
      const v = rng.next();
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
    const candidates = ENTITY_FIELDS[entity].filter(
      (d) => !NON_MUTABLE.has(d.name) && d.name !== profile.businessKey?.field,
    );
    const k = rng.chance(0.3) ? 2 : 1;
    const chosen = new Set<FieldDef>();
    while (chosen.size < k) chosen.add(rng.pick(candidates));
    for (const d of chosen) {
      const side = rng.chance(0.5) ? crm : erp;
      if (d.name === enumF) {
        const others = Object.keys(profile.enumField.values).filter((v) => v !== base[enumF]);
        const v = rng.pick(others);
        side[enumF] = side === crm ? spell(v) : v;
      } else if (d.type === 'text' && rng.chance(0.2)) side[d.name] = null;
      else side[d.name] = differentValue(d, base[d.name], rng, currency, tol);
      truth('field_mismatch', pairKey, d.name);
    }
  } else if (kind === 'edge_cases') {
    applyEdgeCases(entity, rng, crm, erp, currency, tol);
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
): void {
  const profile = PROFILES[entity];
  const money = moneyFields(entity);
  const texts = ENTITY_FIELDS[entity].filter(
    (d) =>
      d.type === 'text' &&
      !NON_MUTABLE.has(d.name) &&
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

/**
 * The tenant config (raw, to be validated) under which the generated truth is exactly what a
 * correct reconciliation reports: business keys, value maps for the CRM enum spellings, money
 * tolerances, survivorship overrides, materiality and action policy.
 */
export function generatorTenantConfig(opts: Omit<GenerateOptions, 'seed'>): Record<string, unknown> {
  const ov = opts.overrides ?? {};
  const systems = opts.systems ?? { crm: 'crm', erp: 'erp' };
  const entities: Record<string, unknown> = {};
  for (const entity of ENTITIES) {
    const p = PROFILES[entity];
    const compare: Record<string, unknown> = {};
    if (ov.valueMaps ?? true) {
      const map: Record<string, string> = {};
      for (const [canonical, spelled] of Object.entries(p.enumField.values)) map[spelled] = canonical;
      compare[p.enumField.field] = { type: 'enum', valueMap: { [systems.crm]: map } };
    }
    if (ov.toleranceMinor)
      for (const m of moneyFields(entity))
        compare[m.name] = { type: 'money', toleranceMinor: ov.toleranceMinor };
    entities[entity] = {
      match: {
        keys: p.businessKey ? [{ field: p.businessKey.field, normalise: p.businessKey.normalise }] : [],
      },
      compare,
      survivorship: ov.survivorship?.[entity] ?? {},
    };
  }
  return {
    displayName: `${opts.tenant} (generated)`,
    materiality: { threshold: ov.materialityThreshold ?? '100' },
    systems: {
      [systems.crm]: { kind: 'csv', role: 'crm', dropDir: `/tmp/trueup-generated/${opts.tenant}/crm` },
      [systems.erp]: { kind: 'csv', role: 'erp', dropDir: `/tmp/trueup-generated/${opts.tenant}/erp` },
    },
    entities,
    actions: { policy: 'propose', createMissing: ov.createMissing ?? true },
  };
}

// Survivorship and action planning. For each mismatching field of a matched pair the field's
// rule (tenant override, else `owner` with the canonical default owner) picks the winning side;
// the winners form the golden record, and each system holding a losing value gets ONE upsert
// with only the fields to set, its explanation (rule, both values, winner) and the version of
// the record we observed, so the writer can refuse to overwrite newer data. Missing records
// become `create` actions when the tenant's policy allows. Nothing is ever deleted.
import { createHash } from 'node:crypto';
import type { SurvivorshipRule } from '../pipeline/config/schema.js';
import { type Entity, type FieldDef, fieldDef } from '../staging/model/entities.js';
import { comparatorFor, LINK_FIELDS, toCanonicalValue, toSystemValue } from './comparators.js';
import type { PairDiff } from './compare.js';
import { compareDecimal, isDecimal } from './decimal.js';
import type { TenantSlice } from './job-protocol.js';
import type { MirrorRow } from './wide-rows.js';

export interface PlannedAction {
  entity: Entity;
  targetSide: 'crm' | 'erp';
  targetSystem: string;
  targetId: string | null;
  kind: 'upsert' | 'create';
  fields: Record<string, unknown>;
  explanation: Record<string, unknown>;
  observedVersion: string | null;
  idempotencyKey: string;
  /** The discrepancy match key this action corrects. */
  matchKey: string;
}

type Side = 'crm' | 'erp';
const other = (s: Side): Side => (s === 'crm' ? 'erp' : 'crm');
/** No value: null, empty, or one of the entity's null equivalents (the comparators' view too). */
const isEmpty = (v: unknown, nulls: readonly string[]) =>
  v === null || v === undefined || v === '' || (typeof v === 'string' && nulls.includes(v));

function ruleFor(def: FieldDef, slice: TenantSlice): SurvivorshipRule {
  return slice.entity.survivorship[def.name] ?? { rule: 'owner' };
}

function ownerOf(def: FieldDef, rule: SurvivorshipRule): Side {
  return rule.rule === 'owner' && rule.owner ? rule.owner : def.owner;
}

function orderValues(a: string, b: string): number {
  if (isDecimal(a) && isDecimal(b)) return compareDecimal(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The winning side of one field, or null when the rule only reports. */
export function winner(def: FieldDef, slice: TenantSlice, crm: MirrorRow, erp: MirrorRow): Side | null {
  const rule = ruleFor(def, slice);
  const owner = ownerOf(def, rule);
  const c = crm.fields[def.name];
  const e = erp.fields[def.name];
  const empty = (v: unknown) => isEmpty(v, slice.entity.nullEquivalents);
  switch (rule.rule) {
    case 'report_only':
      return null;
    case 'owner':
      return owner;
    case 'most_recent': {
      if (!crm.updated_at || !erp.updated_at || crm.updated_at === erp.updated_at) return owner;
      return crm.updated_at > erp.updated_at ? 'crm' : 'erp';
    }
    case 'most_complete': {
      if (empty(c) !== empty(e)) return empty(c) ? 'erp' : 'crm';
      // The link fields do not count (see compare.ts): one side holding a link is no more complete.
      const filled = (r: MirrorRow) =>
        r.filled ?? Object.entries(r.fields).filter(([k, v]) => !LINK_FIELDS.has(k) && !empty(v)).length;
      const fc = filled(crm);
      const fe = filled(erp);
      return fc === fe ? owner : fc > fe ? 'crm' : 'erp';
    }
    case 'max':
    case 'min': {
      if (empty(c) !== empty(e)) return empty(c) ? 'erp' : 'crm';
      if (empty(c)) return owner;
      const o = orderValues(c as string, e as string);
      if (o === 0) return owner;
      return o > 0 === (rule.rule === 'max') ? 'crm' : 'erp';
    }
  }
}

/** Text from the mirror → the canonical JS type a writer expects. */
function typed(def: FieldDef, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (def.type === 'boolean') return v === 'true' || v === true;
  if (def.type === 'json' && typeof v === 'string') {
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }
  return v;
}

function idempotencyKey(parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 40);
}

export function planPairActions(
  entity: Entity,
  slice: TenantSlice,
  tenant: string,
  diffs: readonly PairDiff[],
): PlannedAction[] {
  const out: PlannedAction[] = [];
  for (const d of diffs) {
    const sets: Record<Side, { fields: Record<string, unknown>; why: Record<string, unknown>[] }> = {
      crm: { fields: {}, why: [] },
      erp: { fields: {}, why: [] },
    };
    for (const field of d.fields) {
      const def = fieldDef(entity, field);
      if (!def) continue;
      const win = winner(def, slice, d.crm, d.erp);
      const rule = ruleFor(def, slice);
      if (!win) continue;
      const winRow = win === 'crm' ? d.crm : d.erp;
      const golden = toCanonicalValue(def, slice.entity, slice.systems[win], winRow.fields[field]);
      const target = other(win);
      const value = typed(def, toSystemValue(def, slice.entity, slice.systems[target], golden));
      sets[target].fields[field] = value;
      sets[target].why.push({
        field,
        rule: rule.rule,
        ...(rule.rule === 'owner' ? { owner: ownerOf(def, rule) } : {}),
        comparator: comparatorFor(def, slice.entity).type,
        crm: d.crm.fields[field],
        erp: d.erp.fields[field],
        winner: win,
        golden,
      });
    }
    for (const target of ['crm', 'erp'] as const) {
      const s = sets[target];
      if (!s.why.length) continue;
      const row = target === 'crm' ? d.crm : d.erp;
      const system = slice.systems[target];
      const observed = row.version.toString();
      out.push({
        entity,
        targetSide: target,
        targetSystem: system,
        targetId: row.source_id,
        kind: 'upsert',
        fields: s.fields,
        explanation: { fields: s.why, matchKey: `C:${d.crm.source_id}|E:${d.erp.source_id}` },
        observedVersion: observed,
        idempotencyKey: idempotencyKey([tenant, entity, system, row.source_id, 'upsert', s.fields, observed]),
        matchKey: `C:${d.crm.source_id}|E:${d.erp.source_id}`,
      });
    }
  }
  return out;
}

/** `create` actions for records missing on one side, when the tenant allows creation. */
export function planCreateActions(
  entity: Entity,
  slice: TenantSlice,
  tenant: string,
  lone: readonly MirrorRow[],
): PlannedAction[] {
  if (!slice.actions.createMissing) return [];
  return lone.map((r) => {
    const target = other(r.side);
    const system = slice.systems[target];
    const fields: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(r.fields)) {
      const def = fieldDef(entity, name);
      if (!def || isEmpty(v, slice.entity.nullEquivalents) || name === 'crm_ref' || name === 'erp_ref')
        continue;
      const canonical = toCanonicalValue(def, slice.entity, slice.systems[r.side], v);
      fields[name] = typed(def, toSystemValue(def, slice.entity, system, canonical));
    }
    // The created record points back at its source, so the next run matches it directly.
    fields[r.side === 'crm' ? 'crm_ref' : 'erp_ref'] = r.source_id;
    const matchKey = r.side === 'crm' ? `C:${r.source_id}` : `E:${r.source_id}`;
    return {
      entity,
      targetSide: target,
      targetSystem: system,
      targetId: null,
      kind: 'create' as const,
      fields,
      explanation: {
        reason: `missing in ${target}`,
        source: { system: slice.systems[r.side], id: r.source_id },
      },
      observedVersion: null,
      idempotencyKey: idempotencyKey([
        tenant,
        entity,
        system,
        null,
        'create',
        r.source_id,
        r.version.toString(),
      ]),
      matchKey,
    };
  });
}

// Survivorship: for a mismatching field of a matched pair, the field's rule (the tenant's, else
// `owner` with the canonical default owner) picks the winning side, whose value is the golden one.
// Rules: owner, most_recent, most_complete, max, min, report_only (docs/reconcile.md).
import type { FieldDef } from '../../staging/model/entities.js';
import type { SurvivorshipRule } from '../../staging/model/tenant-config.js';
import { compareDecimal, isDecimal } from '../classify/decimal.js';
import { LINK_FIELDS } from '../compare/comparators.js';
import type { MirrorRow } from '../compare/wide-rows.js';
import type { TenantSlice } from '../pool/job-protocol.js';

export type Side = 'crm' | 'erp';
export const other = (s: Side): Side => (s === 'crm' ? 'erp' : 'crm');
/** No value: null, empty, or one of the entity's null equivalents (the comparators' view too). */
export const isEmpty = (v: unknown, nulls: readonly string[]) =>
  v === null || v === undefined || v === '' || (typeof v === 'string' && nulls.includes(v));

export function ruleFor(def: FieldDef, slice: TenantSlice): SurvivorshipRule {
  return slice.entity.survivorship[def.name] ?? { rule: 'owner' };
}

export function ownerOf(def: FieldDef, rule: SurvivorshipRule): Side {
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
      // The link fields do not count (see compare/diff-pairs.ts): one side holding a link is no more complete.
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

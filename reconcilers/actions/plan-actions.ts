// Action planning from survivorship: each system holding a losing value gets ONE upsert per record
// with only the fields to set, its explanation (rule, both values, winner, golden value) and the
// version of the record observed, so the writer can refuse to overwrite newer data. Missing records
// become `create` actions when the tenant allows it. Nothing is ever deleted. A reference
// (customer_ref…) is written as the target system's own id of the linked record
// (compare/references.ts); when that is not known, the correction of it is not proposed (and a
// create that would carry it is not proposed at all).
import { createHash } from 'node:crypto';
import type { NewAction } from '../../staging/control/actions.js';
import { type Entity, type FieldDef, fieldDef } from '../../staging/model/entities.js';
import { identityOf, loneKey, missingClass, pairKey } from '../classify/classify.js';
import { comparatorFor, toCanonicalValue, toSystemValue } from '../compare/comparators.js';
import type { PassResult } from '../compare/compare-pass.js';
import type { PairDiff } from '../compare/diff-pairs.js';
import { REFERENCES } from '../compare/reference-fields.js';
import { NO_REFERENCES, type ReferenceOutcome } from '../compare/references.js';
import type { MirrorRow } from '../compare/wide-rows.js';
import type { ReconcileJob, TenantSlice } from '../pool/job-protocol.js';
import { isEmpty, other, ownerOf, ruleFor, type Side, winner } from './survivorship.js';

/** A planned correction: what control.actions stores, and what it corrects. */
export interface PlannedAction extends NewAction {
  entity: Entity;
  targetSide: Side;
  /** The discrepancy match key this action corrects. */
  matchKey: string;
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

const isReference = (entity: Entity, field: string) => REFERENCES[entity].some((r) => r.field === field);

export function planPairActions(
  entity: Entity,
  slice: TenantSlice,
  tenant: string,
  diffs: readonly PairDiff[],
  refs: ReferenceOutcome = NO_REFERENCES,
): PlannedAction[] {
  const out: PlannedAction[] = [];
  const planned = new Set<string>();
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
      let value = typed(def, toSystemValue(def, slice.entity, slice.systems[target], golden));
      if (isReference(entity, field)) {
        // The other system's id of the record the winner refers to, or no correction.
        const translated = refs.translate(field, win, winRow.fields[field]);
        if (translated === undefined) continue;
        value = typed(def, translated);
      }
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
      const key = idempotencyKey([tenant, entity, system, row.source_id, 'upsert', s.fields, observed]);
      // Many-to-one links (match.allowMany): several pairs may ask the one record for the same
      // correction; it is one action.
      if (planned.has(key)) continue;
      planned.add(key);
      out.push({
        entity,
        targetSide: target,
        targetSystem: system,
        targetId: row.source_id,
        kind: 'upsert',
        fields: s.fields,
        explanation: { fields: s.why, matchKey: pairKey(d.crm.source_id, d.erp.source_id) },
        observedVersion: observed,
        idempotencyKey: key,
        matchKey: pairKey(d.crm.source_id, d.erp.source_id),
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
  refs: ReferenceOutcome = NO_REFERENCES,
): PlannedAction[] {
  if (!slice.actions.createMissing) return [];
  return lone.flatMap((r) => {
    const target = other(r.side);
    const system = slice.systems[target];
    const fields: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(r.fields)) {
      const def = fieldDef(entity, name);
      if (!def || isEmpty(v, slice.entity.nullEquivalents) || name === 'crm_ref' || name === 'erp_ref')
        continue;
      if (isReference(entity, name)) {
        // The created record refers to the target system's own record, or it is not proposed
        // (the discrepancy's detail.noCreate says why).
        const translated = refs.translate(name, r.side, v);
        if (translated === undefined) return [];
        fields[name] = typed(def, translated);
        continue;
      }
      const canonical = toCanonicalValue(def, slice.entity, slice.systems[r.side], v);
      fields[name] = typed(def, toSystemValue(def, slice.entity, system, canonical));
    }
    // The created record points back at its source, so the next run matches it directly.
    fields[r.side === 'crm' ? 'crm_ref' : 'erp_ref'] = r.source_id;
    const matchKey = loneKey(r.side, r.source_id);
    const action: PlannedAction = {
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
    return [action];
  });
}
/** Actions for the discrepancies that stand (identities in `keep`), from the pass that found them. */
export function planActions(job: ReconcileJob, pass: PassResult, keep: ReadonlySet<string>): PlannedAction[] {
  const slice: TenantSlice = job.config;
  const diffs = pass.diffs
    .map((d) => ({
      ...d,
      fields: d.fields.filter((field) =>
        keep.has(
          identityOf({ class: 'field_mismatch', matchKey: pairKey(d.crm.source_id, d.erp.source_id), field }),
        ),
      ),
    }))
    .filter((d) => d.fields.length);
  const lone = pass.lone.filter((r) =>
    keep.has(identityOf({ class: missingClass(r.side), matchKey: loneKey(r.side, r.source_id), field: '' })),
  );
  return [
    ...planPairActions(job.entity, slice, job.tenant, diffs, pass.references),
    ...planCreateActions(job.entity, slice, job.tenant, lone, pass.references),
  ];
}

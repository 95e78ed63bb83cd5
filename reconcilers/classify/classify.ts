// Classification: turns what a comparison pass found into discrepancies with their identity
// (entity, match key, class, field) and money impact (materiality.ts). Match keys (keys.ts):
// `C:<crmId>|E:<erpId>` for a pair, `C:<crmId>` / `E:<erpId>` for a lone or duplicated record.
// `unverifiable` (never material): a lone record whose counterpart is an open dead letter, and a
// reference whose target is not linked yet (compare/references.ts).

import type { DiscrepancyFinding } from '../../staging/control/discrepancies.js';
import { discrepancyIdentity } from '../../staging/control/discrepancy-states.js';
import { type Entity, fieldDef } from '../../staging/model/entities.js';
import { comparatorFor } from '../compare/comparators.js';
import type { PassResult } from '../compare/compare-pass.js';
import type { PairDiff } from '../compare/diff-pairs.js';
import { NO_REFERENCES, type ReferenceOutcome, verdictKey } from '../compare/references.js';
import type { MirrorRow } from '../compare/wide-rows.js';
import type { TenantSlice } from '../pool/job-protocol.js';
import { absDiff, isDecimal } from './decimal.js';
import { loneKey, missingClass, pairKey } from './keys.js';
import { isMaterial, toMinor, twoCurrencies, wholeAmount, wholeAmountCurrency } from './materiality.js';
import { suggestCandidates } from './suggestions.js';

export { loneKey, missingClass, pairKey } from './keys.js';

/** A discrepancy a run found in one entity. */
export interface Discrepancy extends DiscrepancyFinding {
  entity: Entity;
}

/** A discrepancy's identity within its tenant and entity. */
export const identityOf = discrepancyIdentity;

export function fieldMismatches(
  entity: Entity,
  slice: TenantSlice,
  diffs: readonly PairDiff[],
  refs: ReferenceOutcome = NO_REFERENCES,
): Discrepancy[] {
  const out: Discrepancy[] = [];
  for (const d of diffs) {
    for (const field of d.fields) {
      const def = fieldDef(entity, field);
      const c = d.crm.fields[field] ?? null;
      const e = d.erp.fields[field] ?? null;
      const matchKey = pairKey(d.crm.source_id, d.erp.source_id);
      const verdict = refs.verdicts.get(verdictKey(matchKey, field));
      if (verdict?.kind === 'unverifiable') {
        // The two references name records not linked (yet): neither equal nor different.
        out.push({
          entity,
          matchKey,
          class: 'unverifiable',
          field,
          crmId: d.crm.source_id,
          erpId: d.erp.source_id,
          crmValue: c,
          erpValue: e,
          currency: null,
          moneyImpact: null,
          material: false,
          detail: { matchedBy: d.lvl === 0 ? 'explicit' : `key ${d.lvl}`, ...verdict.detail },
        });
        continue;
      }
      let currency: string | null = null;
      let impact: string | null = null;
      if (def?.currencyField) {
        const cc = d.crm.fields[def.currencyField]?.trim() || null;
        const ec = d.erp.fields[def.currencyField]?.trim() || null;
        currency = ec ?? cc;
        // Measured as the comparator measured it: a money comparator over one currency compares
        // both amounts rounded to its minor unit, so 100.005 vs 100.00 USD is a one-cent
        // difference. Otherwise (another comparator, one currency missing) the exact difference.
        const rounded = cc === ec && comparatorFor(def, slice.entity).type === 'money';
        const amount = (v: string) => (rounded ? toMinor(v, currency) : v);
        if (cc === ec || cc === null || ec === null)
          impact =
            isDecimal(c) && isDecimal(e)
              ? absDiff(amount(c), amount(e))
              : isDecimal(c)
                ? absDiff(amount(c), '0')
                : isDecimal(e)
                  ? absDiff(amount(e), '0')
                  : null;
        // Two currencies: without exchange rates the difference cannot be measured. The
        // record's currency discrepancy (below) puts its whole amount at stake, once per record.
      } else if (field === wholeAmountCurrency(entity) && twoCurrencies(d.crm, d.erp, field)) {
        // The sides disagree on the record's currency (whether or not the amounts agree as
        // numbers): its whole amount is at stake, as for a missing record — the ERP's, or the
        // CRM's when the ERP holds none. Without it such a difference would never be material.
        // A currency missing on one side is no second currency: the amounts are compared and
        // their differences measured above, and counting the whole amount too would count the
        // record twice.
        const erp = wholeAmount(entity, d.erp);
        ({ currency, impact } = erp.impact !== null ? erp : wholeAmount(entity, d.crm));
      }
      out.push({
        entity,
        matchKey,
        class: 'field_mismatch',
        field,
        crmId: d.crm.source_id,
        erpId: d.erp.source_id,
        crmValue: c,
        erpValue: e,
        currency,
        moneyImpact: impact,
        material: isMaterial(slice, currency, impact),
        detail: { matchedBy: d.lvl === 0 ? 'explicit' : `key ${d.lvl}`, ...verdict?.detail },
      });
    }
  }
  return out;
}

export function deletedInOne(
  entity: Entity,
  slice: TenantSlice,
  pairs: readonly { crm: MirrorRow; erp: MirrorRow }[],
): Discrepancy[] {
  return pairs.map((p) => {
    const live = p.crm.deleted ? p.erp : p.crm;
    const { currency, impact } = wholeAmount(entity, live);
    return {
      entity,
      matchKey: pairKey(p.crm.source_id, p.erp.source_id),
      class: 'deleted_in_one' as const,
      field: '',
      crmId: p.crm.source_id,
      erpId: p.erp.source_id,
      crmValue: p.crm.deleted ? null : { deleted: false },
      erpValue: p.erp.deleted ? null : { deleted: false },
      currency,
      moneyImpact: impact,
      material: isMaterial(slice, currency, impact),
      detail: {
        deletedIn: p.crm.deleted ? 'crm' : 'erp',
        deletedAt: (p.crm.deleted ? p.crm : p.erp).updated_at,
      },
    };
  });
}

export function missing(
  entity: Entity,
  slice: TenantSlice,
  lone: readonly MirrorRow[],
  suggestions: ReadonlyMap<string, string[]>,
  noCreate: ReadonlyMap<string, string> = new Map(),
): Discrepancy[] {
  return lone.map((r) => {
    const { currency, impact } = wholeAmount(entity, r);
    const key = loneKey(r.side, r.source_id);
    const candidates = suggestions.get(key) ?? [];
    const why = noCreate.get(key);
    return {
      entity,
      matchKey: key,
      class: missingClass(r.side),
      field: '',
      crmId: r.side === 'crm' ? r.source_id : null,
      erpId: r.side === 'erp' ? r.source_id : null,
      crmValue: null,
      erpValue: null,
      currency,
      moneyImpact: impact,
      material: isMaterial(slice, currency, impact),
      detail: { ...(candidates.length ? { candidates } : {}), ...(why ? { noCreate: why } : {}) },
    };
  });
}

const SYSTEM = { crm: 'CRM', erp: 'ERP' } as const;

/**
 * Lone records whose counterpart an open dead letter holds: not missing (the other side could not
 * stage it), so unverifiable, pointing at the dead letters. Never material.
 */
export function deadLettered(
  entity: Entity,
  rows: readonly { row: MirrorRow; deadLetters: string[] }[],
): Discrepancy[] {
  return rows.map(({ row: r, deadLetters }) => {
    const other = r.side === 'crm' ? 'erp' : 'crm';
    return {
      entity,
      matchKey: loneKey(r.side, r.source_id),
      class: 'unverifiable' as const,
      field: '',
      crmId: r.side === 'crm' ? r.source_id : null,
      erpId: r.side === 'erp' ? r.source_id : null,
      crmValue: null,
      erpValue: null,
      currency: null,
      moneyImpact: null,
      material: false,
      detail: {
        reason: 'counterpart_dead_lettered',
        wouldBe: missingClass(r.side),
        deadLetterSide: other,
        deadLetters,
        explanation: `its ${SYSTEM[other]} counterpart could not be staged (dead letter ${deadLetters.join(', ')}): see trueup dlq list`,
      },
    };
  });
}

export function duplicates(
  entity: Entity,
  dups: readonly { side: 'crm' | 'erp'; id: string; partners: string[] }[],
): Discrepancy[] {
  return dups.map((d) => ({
    entity,
    matchKey: loneKey(d.side, d.id),
    class: 'duplicate_match' as const,
    field: '',
    crmId: d.side === 'crm' ? d.id : null,
    erpId: d.side === 'erp' ? d.id : null,
    crmValue: d.side === 'erp' ? d.partners : null,
    erpValue: d.side === 'crm' ? d.partners : null,
    currency: null,
    moneyImpact: null,
    material: false,
    detail: { partners: d.partners },
  }));
}

/** Every discrepancy one comparison pass found. */
export function classifyPass(
  entity: Entity,
  slice: TenantSlice,
  pass: Pick<PassResult, 'diffs' | 'deleted' | 'lone' | 'dups'> & Partial<PassResult>,
): Discrepancy[] {
  const refs = pass.references ?? NO_REFERENCES;
  return [
    ...fieldMismatches(entity, slice, pass.diffs, refs),
    ...deletedInOne(entity, slice, pass.deleted),
    ...missing(entity, slice, pass.lone, suggestCandidates(entity, pass.lone), refs.noCreate),
    ...deadLettered(entity, pass.loneDeadLettered ?? []),
    ...duplicates(entity, pass.dups),
  ];
}

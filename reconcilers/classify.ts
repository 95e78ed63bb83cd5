// Classification and materiality: turns matching and comparison results into discrepancies
// with their identity (entity, match key, class, field) and money impact. Match keys:
// `C:<crmId>|E:<erpId>` for a pair, `C:<crmId>` / `E:<erpId>` for a lone or duplicated record.

import { type Entity, fieldDef } from '../staging/model/entities.js';
import { decimalToScaled, minorUnits } from '../staging/model/money.js';
import type { DiscrepancyClass } from '../staging/tables/discrepancy.table.js';
import { comparatorFor } from './comparators.js';
import type { PairDiff, PassResult } from './compare.js';
import { absDiff, compareDecimal, isDecimal } from './decimal.js';
import type { TenantSlice } from './job-protocol.js';
import type { MirrorRow } from './wide-rows.js';

export interface Discrepancy {
  entity: Entity;
  matchKey: string;
  class: DiscrepancyClass;
  field: string;
  crmId: string | null;
  erpId: string | null;
  crmValue: unknown;
  erpValue: unknown;
  currency: string | null;
  moneyImpact: string | null;
  material: boolean;
  detail: Record<string, unknown>;
}

/**
 * The money field whose whole amount a missing or deleted record puts at stake, and a record
 * whose two sides disagree on its currency.
 */
export const WHOLE_AMOUNT: Partial<Record<Entity, string>> = {
  order: 'amount_total',
  invoice: 'total',
  payment: 'amount',
};

export const pairKey = (crmId: string, erpId: string) => `C:${crmId}|E:${erpId}`;

export function isMaterial(slice: TenantSlice, currency: string | null, impact: string | null): boolean {
  if (impact === null || compareDecimal(impact, '0') <= 0) return false;
  const threshold = (currency && slice.materiality.byCurrency[currency]) || slice.materiality.threshold;
  return compareDecimal(impact, threshold) >= 0;
}

/**
 * An amount rounded (half away from zero) to the minor unit of its currency — JPY 0, USD 2,
 * BHD 3 digits; 2 without a known currency, like the money comparator.
 */
function toMinor(v: string, currency: string | null): string {
  let digits = 2;
  try {
    if (currency) digits = minorUnits(currency);
  } catch {
    // not an ISO code: 2 digits, as the comparator does
  }
  const scaled = decimalToScaled(v, digits);
  const neg = scaled < 0n;
  const text = (neg ? -scaled : scaled).toString().padStart(digits + 1, '0');
  const whole = text.slice(0, text.length - digits);
  return `${neg ? '-' : ''}${whole}${digits ? `.${text.slice(text.length - digits)}` : ''}`;
}

/** The currency field of the entity's whole amount (invoice: currency). */
const wholeAmountCurrency = (entity: Entity) => {
  const field = WHOLE_AMOUNT[entity];
  return field ? fieldDef(entity, field)?.currencyField : undefined;
};

/** Both sides name a currency in `field`, and not the same one. */
function twoCurrencies(crm: MirrorRow, erp: MirrorRow, field: string): boolean {
  const cc = crm.fields[field]?.trim() || null;
  const ec = erp.fields[field]?.trim() || null;
  return cc !== null && ec !== null && cc !== ec;
}

function wholeAmount(entity: Entity, row: MirrorRow): { currency: string | null; impact: string | null } {
  const field = WHOLE_AMOUNT[entity];
  const def = field ? fieldDef(entity, field) : undefined;
  if (!def?.currencyField) return { currency: null, impact: null };
  const v = row.fields[def.name];
  const currency = row.fields[def.currencyField]?.trim() || null;
  return { currency, impact: isDecimal(v) ? absDiff(toMinor(v, currency), '0') : null };
}

export function fieldMismatches(
  entity: Entity,
  slice: TenantSlice,
  diffs: readonly PairDiff[],
): Discrepancy[] {
  const out: Discrepancy[] = [];
  for (const d of diffs) {
    for (const field of d.fields) {
      const def = fieldDef(entity, field);
      const c = d.crm.fields[field] ?? null;
      const e = d.erp.fields[field] ?? null;
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
        matchKey: pairKey(d.crm.source_id, d.erp.source_id),
        class: 'field_mismatch',
        field,
        crmId: d.crm.source_id,
        erpId: d.erp.source_id,
        crmValue: c,
        erpValue: e,
        currency,
        moneyImpact: impact,
        material: isMaterial(slice, currency, impact),
        detail: { matchedBy: d.lvl === 0 ? 'explicit' : `key ${d.lvl}` },
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
): Discrepancy[] {
  return lone.map((r) => {
    const { currency, impact } = wholeAmount(entity, r);
    const key = r.side === 'crm' ? `C:${r.source_id}` : `E:${r.source_id}`;
    const candidates = suggestions.get(key) ?? [];
    return {
      entity,
      matchKey: key,
      class: r.side === 'crm' ? ('missing_in_erp' as const) : ('missing_in_crm' as const),
      field: '',
      crmId: r.side === 'crm' ? r.source_id : null,
      erpId: r.side === 'erp' ? r.source_id : null,
      crmValue: null,
      erpValue: null,
      currency,
      moneyImpact: impact,
      material: isMaterial(slice, currency, impact),
      detail: candidates.length ? { candidates } : {},
    };
  });
}

export function duplicates(
  entity: Entity,
  dups: readonly { side: 'crm' | 'erp'; id: string; partners: string[] }[],
): Discrepancy[] {
  return dups.map((d) => ({
    entity,
    matchKey: d.side === 'crm' ? `C:${d.id}` : `E:${d.id}`,
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

/** A discrepancy's identity within its tenant and entity. */
export const identityOf = (d: Pick<Discrepancy, 'class' | 'matchKey' | 'field'>) =>
  `${d.class}|${d.matchKey}|${d.field}`;

/** Every discrepancy one comparison pass found. */
export function classifyPass(
  entity: Entity,
  slice: TenantSlice,
  pass: Pick<PassResult, 'diffs' | 'deleted' | 'lone' | 'dups' | 'suggestions'>,
): Discrepancy[] {
  return [
    ...fieldMismatches(entity, slice, pass.diffs),
    ...deletedInOne(entity, slice, pass.deleted),
    ...missing(entity, slice, pass.lone, pass.suggestions),
    ...duplicates(entity, pass.dups),
  ];
}

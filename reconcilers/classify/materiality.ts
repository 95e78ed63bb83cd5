// Materiality: the money impact of a discrepancy in its record's currency — the difference for a
// money field (rounded to the currency's minor unit when the money comparator does), the whole
// amount for a missing or deleted record and for a record whose sides disagree on its currency —
// and whether it reaches the tenant's threshold (docs/reconcile.md).
import { type Entity, fieldDef } from '../../staging/model/entities.js';
import { decimalToScaled, minorUnits } from '../../staging/model/money.js';
import { WHOLE_AMOUNT } from '../compare/whole-amount.js';
import type { MirrorRow } from '../compare/wide-rows.js';
import type { TenantSlice } from '../pool/job-protocol.js';
import { absDiff, compareDecimal, isDecimal } from './decimal.js';

export function isMaterial(slice: TenantSlice, currency: string | null, impact: string | null): boolean {
  if (impact === null || compareDecimal(impact, '0') <= 0) return false;
  const threshold = (currency && slice.materiality.byCurrency[currency]) || slice.materiality.threshold;
  return compareDecimal(impact, threshold) >= 0;
}

/**
 * An amount rounded (half away from zero) to the minor unit of its currency — JPY 0, USD 2,
 * BHD 3 digits; 2 without a known currency, like the money comparator.
 */
export function toMinor(v: string, currency: string | null): string {
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
export const wholeAmountCurrency = (entity: Entity) => {
  const field = WHOLE_AMOUNT[entity];
  return field ? fieldDef(entity, field)?.currencyField : undefined;
};

/** Both sides name a currency in `field`, and not the same one. */
export function twoCurrencies(crm: MirrorRow, erp: MirrorRow, field: string): boolean {
  const cc = crm.fields[field]?.trim() || null;
  const ec = erp.fields[field]?.trim() || null;
  return cc !== null && ec !== null && cc !== ec;
}

export function wholeAmount(
  entity: Entity,
  row: MirrorRow,
): { currency: string | null; impact: string | null } {
  const field = WHOLE_AMOUNT[entity];
  const def = field ? fieldDef(entity, field) : undefined;
  if (!def?.currencyField) return { currency: null, impact: null };
  const v = row.fields[def.name];
  const currency = row.fields[def.currencyField]?.trim() || null;
  return { currency, impact: isDecimal(v) ? absDiff(toMinor(v, currency), '0') : null };
}

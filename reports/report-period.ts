// Close periods (a calendar month, `2026-11`) and the business date that puts a record in one:
// an order's order date, an invoice's issue date, a payment's payment date; a subscription is in
// every period its current billing period overlaps. Customers and products have no business date
// and belong to every period. A record without the date belongs to every period too: a close
// must not lose a discrepancy because a date is missing.
import type { Entity } from '../staging/model/entities.js';
import { TrueupError } from '../staging/model/errors.js';

export interface ClosePeriod {
  /** `YYYY-MM`. */
  period: string;
  /** First day of the period, `YYYY-MM-DD`. */
  start: string;
  /** First day after the period, `YYYY-MM-DD`. */
  end: string;
}

export class PeriodError extends TrueupError {
  override name = 'PeriodError';
}

const PERIOD_PATTERN = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** Parses `YYYY-MM`; anything else is a PeriodError naming the expected form. */
export function parsePeriod(text: string): ClosePeriod {
  const m = PERIOD_PATTERN.exec(text);
  if (!m) throw new PeriodError(`period ${JSON.stringify(text)} is not a month such as 2026-11 (YYYY-MM)`);
  const year = Number(m[1]);
  const month = Number(m[2]);
  const next =
    month === 12
      ? `${String(year + 1).padStart(4, '0')}-01`
      : `${m[1]}-${String(month + 1).padStart(2, '0')}`;
  return { period: text, start: `${text}-01`, end: `${next}-01` };
}

/** The business date fields of an entity: one date, or a span (subscriptions); null: none. */
export const BUSINESS_DATE: Readonly<Record<Entity, { from: string; to?: string } | null>> = Object.freeze({
  customer: null,
  product: null,
  order: { from: 'order_date' },
  invoice: { from: 'issue_date' },
  payment: { from: 'payment_date' },
  subscription: { from: 'current_period_start', to: 'current_period_end' },
});

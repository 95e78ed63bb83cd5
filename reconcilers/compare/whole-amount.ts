// The money field whose whole amount a missing or deleted record puts at stake, and a record whose
// two sides disagree on its currency (classify/materiality.ts). The comparison sends it along.
import type { Entity } from '../../staging/model/entities.js';

export const WHOLE_AMOUNT: Partial<Record<Entity, string>> = {
  order: 'amount_total',
  invoice: 'total',
  payment: 'amount',
};

// Which canonical fields are references to another entity's records, and the field that names a
// referenced record in an explanation. A leaf module: the mirror layout and the run's job order
// read it as much as the comparison (compare/references.ts).
import type { Entity } from '../../staging/model/entities.js';

/** A canonical field holding another entity's source id (`list`: a JSON array of them). */
export interface ReferenceField {
  field: string;
  target: Entity;
  list: boolean;
}

/** The reference fields of each canonical entity. The generator's own copy is tested against it. */
export const REFERENCES: Readonly<Record<Entity, readonly ReferenceField[]>> = Object.freeze({
  customer: [],
  product: [],
  order: [{ field: 'customer_ref', target: 'customer', list: false }],
  invoice: [
    { field: 'customer_ref', target: 'customer', list: false },
    { field: 'order_ref', target: 'order', list: false },
  ],
  payment: [
    { field: 'customer_ref', target: 'customer', list: false },
    { field: 'applied_invoices', target: 'invoice', list: true },
  ],
  subscription: [{ field: 'customer_ref', target: 'customer', list: false }],
});

/** The field that names a referenced record in an explanation. */
export const NAME_FIELD: Readonly<Record<Entity, string>> = {
  customer: 'name',
  product: 'name',
  order: 'number',
  invoice: 'number',
  payment: 'number',
  subscription: 'status',
};

/** The entities `entity` refers to. */
export const referencedEntities = (entity: Entity): Entity[] => [
  ...new Set(REFERENCES[entity].map((r) => r.target)),
];

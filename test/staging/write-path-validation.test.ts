// validateCanonical checks values without zod when it plainly can (the write path validates every
// row): whatever that quick check accepts, the canonical zod schemas must accept too, so the
// shortcut never lets through a record the schemas would dead-letter.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CANONICAL_SCHEMAS, plainlyValid } from '../../staging/model/canonical-schemas.js';
import { ENTITIES, ENTITY_FIELDS } from '../../staging/model/entities.js';

const value = fc.oneof(
  fc.string(),
  fc.stringMatching(/^-?\d{1,30}(\.\d{0,14})?$/),
  fc.constantFrom('EUR', 'eur', 'EURO', 'US', '2024-02-30', '2024-02-29', '2023-02-29', '0000-00-00'),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constant(null),
  fc.constant(undefined),
  fc.object(),
  fc.array(fc.string()),
);

describe('the quick canonical validation', () => {
  for (const entity of ENTITIES) {
    it(`${entity}: accepts only what the canonical schema accepts`, () => {
      const names = ENTITY_FIELDS[entity].map((f) => f.name);
      fc.assert(
        fc.property(
          fc.dictionary(fc.constantFrom(...names, 'not_a_field'), value, { maxKeys: 4 }),
          (fields) => {
            if (plainlyValid(entity, fields))
              expect(CANONICAL_SCHEMAS[entity].safeParse(fields).success).toBe(true);
          },
        ),
        { numRuns: 500 },
      );
    });
  }

  it('leaves unknown fields, odd objects and bad values to the schema', () => {
    expect(plainlyValid('customer', { name: 'x', nmae: 'y' })).toBe(false);
    expect(plainlyValid('customer', Object.create(null))).toBe(false);
    expect(plainlyValid('customer', { credit_limit: 1.5 })).toBe(false);
    expect(plainlyValid('customer', { credit_limit: '1.50', currency: 'EUR', name: null })).toBe(true);
  });
});

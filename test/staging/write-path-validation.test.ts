// validateCanonical checks values without zod when it plainly can (the write path validates every
// row): whatever that quick check accepts, the canonical zod schemas must accept too, and return
// unchanged, so the shortcut never lets through a record the schemas would dead-letter or change.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CANONICAL_SCHEMAS,
  isRealDate,
  isTimestamp,
  jsonHasNul,
  plainlyValid,
  validateCanonical,
} from '../../staging/model/canonical-schemas.js';
import { ENTITIES, ENTITY_FIELDS } from '../../staging/model/entities.js';

const value = fc.oneof(
  fc.string(),
  fc.stringMatching(/^-?\d{1,30}(\.\d{0,14})?$/),
  fc.constantFrom(
    'EUR',
    'eur',
    'EURO',
    'US',
    '2024-02-30',
    '2024-02-29',
    '2023-02-29',
    '0000-00-00',
    'a\u0000b',
  ),
  fc.constantFrom(
    '2024-01-01T24:00:00Z',
    '2024-02-30T10:00:00Z',
    '2024-01-01 10:00:00+05:30',
    'March 1 2024',
  ),
  fc.constantFrom(['a\u0000'], { k: '\u0000' }, { 'k\u0000': 1 }, ['\\u0000']),
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
              expect(CANONICAL_SCHEMAS[entity].safeParse(fields)).toEqual({ success: true, data: fields });
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
    expect(plainlyValid('customer', { credit_limit: '1.5', currency: 'EUR', name: null })).toBe(true);
    // Valid but not yet canonical: the schema normalises it.
    expect(plainlyValid('customer', { credit_limit: '1.50' })).toBe(false);
    expect(CANONICAL_SCHEMAS.customer.parse({ credit_limit: '1.50', currency: 'eur' })).toEqual({
      credit_limit: '1.5',
      currency: 'EUR',
    });
  });
});

describe('strict dates, timestamps and NUL characters (what Postgres would reject)', () => {
  it('accepts only real calendar days', () => {
    for (const d of ['2024-02-29', '2023-12-31', '0001-01-01', '9999-12-31'])
      expect(isRealDate(d), d).toBe(true);
    for (const d of [
      '2024-02-30',
      '2023-02-29',
      '2024-04-31',
      '2024-13-01',
      '2024-00-10',
      '0000-01-01',
      '2024-1-01',
    ])
      expect(isRealDate(d), d).toBe(false);
    expect(validateCanonical('invoice', { due_date: '2024-02-30' })).toBe('due_date: not a real date');
  });

  it('accepts ISO 8601 timestamps with a real date, time and zone only', () => {
    for (const s of [
      '2024-02-29T23:59:59Z',
      '2024-02-29T23:59:59.123456789Z',
      '2024-01-01 10:00:00+05:30',
      '2024-01-01T10:00:00.000+0000',
      '2024-01-01T10:00',
      '2024-01-01',
      '2024-01-01T24:00:00Z', // the next midnight, as Postgres reads it
    ])
      expect(isTimestamp(s), s).toBe(true);
    for (const s of [
      '2024-02-30T00:00:00Z',
      '2024-01-01T24:00:01Z',
      '2024-01-01T10:60:00Z',
      '2024-01-01T10:00:00+16:00',
      'March 1 2024',
      '',
    ])
      expect(isTimestamp(s), s).toBe(false);
  });

  it('finds a NUL in text and json values, not the escaped text "\\u0000"', () => {
    expect(validateCanonical('customer', { name: 'a\u0000b' })).toMatch(/^name: contains a NUL character/);
    expect(validateCanonical('payment', { applied_invoices: ['a\u0000'] })).toMatch(
      /^applied_invoices: must be JSON without NUL/,
    );
    expect(validateCanonical('subscription', { plan_items: { 'k\u0000': 1 } })).toMatch(/^plan_items: /);
    expect(validateCanonical('subscription', { plan_items: { n: 1n } })).toMatch(/^plan_items: /);
    expect(validateCanonical('payment', { applied_invoices: ['\\u0000'] })).toBeNull();
    expect(jsonHasNul(JSON.stringify({ a: '\\\u0000' }))).toBe(true);
    expect(jsonHasNul(JSON.stringify({ a: '\\u0000' }))).toBe(false);
  });
});

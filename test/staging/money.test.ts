import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CANONICAL_DECIMAL_PATTERN } from '../../staging/model/decimal-text.js';
import {
  DECIMAL_PATTERN,
  fromMinorUnits,
  minorUnits,
  normaliseDecimal,
  toMinorUnits,
} from '../../staging/model/money.js';

describe('money', () => {
  it('knows ISO 4217 minor units', () => {
    expect(minorUnits('USD')).toBe(2);
    expect(minorUnits('JPY')).toBe(0);
    expect(minorUnits('BHD')).toBe(3);
    expect(() => minorUnits('usd')).toThrow('not an ISO 4217 currency code');
  });

  it('converts decimal strings to minor units exactly, rounding half away from zero', () => {
    expect(toMinorUnits('1234.50', 'EUR')).toBe(123450n);
    expect(toMinorUnits('0.005', 'USD')).toBe(1n);
    expect(toMinorUnits('0.004', 'USD')).toBe(0n);
    expect(toMinorUnits('-0.015', 'USD')).toBe(-2n);
    expect(toMinorUnits('1500', 'JPY')).toBe(1500n);
    expect(toMinorUnits('1.2345', 'BHD')).toBe(1235n);
    expect(toMinorUnits('0.1', 'USD') + toMinorUnits('0.2', 'USD')).toBe(toMinorUnits('0.3', 'USD'));
    expect(() => toMinorUnits('1e3', 'USD')).toThrow('not a decimal number');
  });

  it('round-trips minor units through decimal strings', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }),
        fc.constantFrom('USD', 'JPY', 'BHD'),
        (minor, cur) => {
          expect(toMinorUnits(fromMinorUnits(minor, cur), cur)).toBe(minor);
        },
      ),
    );
  });

  it('normalises decimal text: whatever Postgres numeric reads, exactly', () => {
    expect(normaliseDecimal('001.500')).toBe('1.5');
    expect(normaliseDecimal('-0.0')).toBe('0');
    expect(normaliseDecimal(' 12 ')).toBe('12');
    expect(normaliseDecimal('1001.0000000000000000')).toBe('1001');
    expect(normaliseDecimal('1e3')).toBe('1000');
    expect(normaliseDecimal('-1.25E-2')).toBe('-0.0125');
    expect(normaliseDecimal('0.1234567890123456789')).toBe('0.1234567890123456789');
    expect(() => normaliseDecimal('NaN')).toThrow('not a decimal number: "NaN"');
    expect(() => normaliseDecimal('1,5')).toThrow('not a decimal number');
  });

  it('reads staged decimals of any scale numeric holds (no 12-digit limit)', () => {
    expect(DECIMAL_PATTERN.test('1001.0000000000000000')).toBe(true);
    expect(DECIMAL_PATTERN.test(`1.${'3'.repeat(16383)}`)).toBe(true);
    expect(DECIMAL_PATTERN.test(`1.${'3'.repeat(16384)}`)).toBe(false);
    expect(DECIMAL_PATTERN.test('1e3')).toBe(false);
    expect(toMinorUnits('1001.0000000000000000', 'USD')).toBe(100100n);
    expect(toMinorUnits('0.33333333333333333333', 'BHD')).toBe(333n);
  });

  it('normalises any decimal exactly: the same value, one spelling', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[+-]?\d{1,20}(\.\d{0,20})?([eE][+-]?\d{1,2})?$/), (text) => {
        const n = normaliseDecimal(text);
        expect(n).toMatch(CANONICAL_DECIMAL_PATTERN);
        // Exact: the same value, spelled without exponent or padding.
        // value = digits × 10^exponent on both sides, compared at the smaller exponent.
        const [m, e = '0'] = text.toLowerCase().split('e');
        const [w = '', f = ''] = m!.replace(/^[+-]/, '').split('.');
        const [nw = '', nf = ''] = n.replace(/^-/, '').split('.');
        const a = { d: (m!.startsWith('-') ? -1n : 1n) * BigInt(w + f), x: Number(e) - f.length };
        const b = { d: (n.startsWith('-') ? -1n : 1n) * BigInt(nw + nf), x: -nf.length };
        const k = Math.min(a.x, b.x);
        expect(b.d * 10n ** BigInt(b.x - k)).toBe(a.d * 10n ** BigInt(a.x - k));
      }),
      { numRuns: 500 },
    );
  });
});

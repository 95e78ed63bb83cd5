import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromMinorUnits, minorUnits, normaliseDecimal, toMinorUnits } from '../../staging/model/money.js';

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

  it('normalises decimal text', () => {
    expect(normaliseDecimal('001.500')).toBe('1.5');
    expect(normaliseDecimal('-0.0')).toBe('0');
    expect(normaliseDecimal(' 12 ')).toBe('12');
  });
});

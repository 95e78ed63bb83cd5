// The readers for formats a system declares (a CSV system's number and date format, a system's
// time zone for naive timestamps): pure functions of staging/model that connectors call.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DATE_FORMATS, naiveTimestampToUtc, parseDate } from '../../staging/model/date-text.js';
import { parseLocaleNumber } from '../../staging/model/decimal-text.js';
import { CanonicalValueError } from '../../staging/model/value-error.js';

describe('parseLocaleNumber', () => {
  const de = { decimalSeparator: ',', thousandsSeparator: '.' } as const;
  const us = { decimalSeparator: '.', thousandsSeparator: ',' } as const;
  const fr = { decimalSeparator: ',', thousandsSeparator: ' ' } as const;
  const ch = { decimalSeparator: '.', thousandsSeparator: "'" } as const;

  it.each([
    ['1.234,50', de, '1234.5'],
    ['1.234.567,891', de, '1234567.891'],
    ['1234,50', de, '1234.5'],
    ['-1.234,50', de, '-1234.5'],
    ['1.234,50-', de, '-1234.5'],
    ['(1.234,50)', de, '-1234.5'],
    [',5', de, '0.5'],
    ['0,00', de, '0'],
    ['12', de, '12'],
    ['1,234.50', us, '1234.5'],
    ['+1,234,567', us, '1234567'],
    ['1 234,50', fr, '1234.5'],
    ['1\u00a0234,50', fr, '1234.5'],
    ['1\u202f234\u202f567,5', fr, '1234567.5'],
    ["1'234.50", ch, '1234.5'],
    ['  7,10  ', { decimalSeparator: ',' }, '7.1'],
    ['1001,0000000000000000', { decimalSeparator: ',' }, '1001'],
  ] as const)('%j with %j → %s', (text, format, expected) => {
    expect(parseLocaleNumber(text, format)).toBe(expected);
  });

  it.each([
    ['1.5', de], // a group of one digit: the format is wrong, not fifteen
    ['1.234.5', de],
    ['1,234.50', de],
    ['1.234,50', us],
    ['12.34,5', de],
    ['1e3', us],
    ['€ 1.234,50', de],
    ['', de],
    ['-', de],
    ['1,2,3', { decimalSeparator: '.' }],
    ['1 234,50', { decimalSeparator: ',' }],
  ] as const)('%j with %j is refused, naming value and format', (text, format) => {
    const err = (() => {
      try {
        parseLocaleNumber(text, format);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(CanonicalValueError);
    expect((err as Error).message).toBe(
      `${JSON.stringify(text)} is not a number in the format decimalSeparator ${JSON.stringify(format.decimalSeparator)}, thousandsSeparator ${JSON.stringify((format as { thousandsSeparator?: string }).thousandsSeparator ?? '')}`,
    );
  });

  it('refuses a format whose two separators are the same', () => {
    expect(() => parseLocaleNumber('1', { decimalSeparator: ',', thousandsSeparator: ',' })).toThrow(
      'decimalSeparator and thousandsSeparator must differ',
    );
  });

  it('reads back what it would print (grouped German format, any amount)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }),
        fc.integer({ min: 0, max: 6 }),
        (n, scale) => {
          const neg = n < 0n;
          const digits = (neg ? -n : n).toString().padStart(scale + 1, '0');
          const whole = digits.slice(0, digits.length - scale);
          const frac = digits.slice(digits.length - scale);
          const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, '.');
          const text = `${neg ? '-' : ''}${grouped}${scale ? `,${frac}` : ''}`;
          const plain = `${neg ? '-' : ''}${whole}${scale ? `.${frac}` : ''}`;
          const expected = plain.includes('.') ? plain.replace(/\.?0+$/, '') : plain;
          expect(parseLocaleNumber(text, de)).toBe(expected === '-0' || expected === '' ? '0' : expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('parseDate', () => {
  it.each([
    ['2024-01-31', 'YYYY-MM-DD', '2024-01-31'],
    ['2024-1-5', 'YYYY-MM-DD', '2024-01-05'],
    ['20240131', 'YYYYMMDD', '2024-01-31'],
    ['2024/01/31', 'YYYY/MM/DD', '2024-01-31'],
    ['31.01.2024', 'DD.MM.YYYY', '2024-01-31'],
    ['1.2.2024', 'DD.MM.YYYY', '2024-02-01'],
    ['31/01/2024', 'DD/MM/YYYY', '2024-01-31'],
    ['31-01-2024', 'DD-MM-YYYY', '2024-01-31'],
    ['01/31/2024', 'MM/DD/YYYY', '2024-01-31'],
    ['2/29/2024', 'MM/DD/YYYY', '2024-02-29'],
    [' 29.02.2024 ', 'DD.MM.YYYY', '2024-02-29'],
  ] as const)('%j as %s → %s', (text, format, expected) => {
    expect(parseDate(text, format)).toBe(expected);
  });

  it.each([
    ['31/01/2024', 'MM/DD/YYYY', '"31/01/2024" is not a real date in the format MM/DD/YYYY'],
    ['29.02.2023', 'DD.MM.YYYY', '"29.02.2023" is not a real date in the format DD.MM.YYYY'],
    ['31.01.24', 'DD.MM.YYYY', '"31.01.24" is not a date in the format DD.MM.YYYY'],
    ['2024-01-31', 'DD.MM.YYYY', '"2024-01-31" is not a date in the format DD.MM.YYYY'],
    ['31.01.2024 10:00', 'DD.MM.YYYY', '"31.01.2024 10:00" is not a date in the format DD.MM.YYYY'],
    ['', 'YYYY-MM-DD', '"" is not a date in the format YYYY-MM-DD'],
  ] as const)('%j as %s is refused', (text, format, message) => {
    expect(() => parseDate(text, format)).toThrow(new CanonicalValueError(text, message));
  });

  it('knows its formats and refuses another', () => {
    expect(DATE_FORMATS).toContain('DD.MM.YYYY');
    expect(() => parseDate('2024', 'YYYY' as never)).toThrow(/unknown date format "YYYY"/);
  });
});

describe('naiveTimestampToUtc', () => {
  it.each([
    // Winter and summer time
    ['2024-01-15 12:00:00', 'Europe/Berlin', '2024-01-15T11:00:00Z'],
    ['2024-07-01 12:00:00', 'Europe/Berlin', '2024-07-01T10:00:00Z'],
    ['2024-07-01T12:00:00.123456', 'America/New_York', '2024-07-01T16:00:00.123456Z'],
    ['2024-01-15', 'Asia/Kolkata', '2024-01-14T18:30:00Z'],
    ['2024-01-15 12:00:00', 'UTC', '2024-01-15T12:00:00Z'],
    // Spring forward in Berlin (02:00 → 03:00 on 2024-03-31): the skipped hour moves forward.
    ['2024-03-31 01:59:59', 'Europe/Berlin', '2024-03-31T00:59:59Z'],
    ['2024-03-31 02:00:00', 'Europe/Berlin', '2024-03-31T01:00:00Z'],
    ['2024-03-31 02:30:00', 'Europe/Berlin', '2024-03-31T01:30:00Z'],
    ['2024-03-31 03:00:00', 'Europe/Berlin', '2024-03-31T01:00:00Z'],
    // Fall back in Berlin (03:00 → 02:00 on 2024-10-27): the repeated hour is the earlier instant.
    ['2024-10-27 01:59:59', 'Europe/Berlin', '2024-10-26T23:59:59Z'],
    ['2024-10-27 02:00:00', 'Europe/Berlin', '2024-10-27T00:00:00Z'],
    ['2024-10-27 02:30:00', 'Europe/Berlin', '2024-10-27T00:30:00Z'],
    ['2024-10-27 03:00:00', 'Europe/Berlin', '2024-10-27T02:00:00Z'],
    // New York: spring forward 2024-03-10 02:00 → 03:00, fall back 2024-11-03 02:00 → 01:00.
    ['2024-03-10 02:30:00', 'America/New_York', '2024-03-10T07:30:00Z'],
    ['2024-11-03 01:30:00', 'America/New_York', '2024-11-03T05:30:00Z'],
    // Southern hemisphere (Sydney falls back on 2024-04-07 03:00 → 02:00), and Lord Howe, whose
    // clocks go back half an hour (02:00 → 01:30).
    ['2024-04-07 02:30:00', 'Australia/Sydney', '2024-04-06T15:30:00Z'],
    ['2024-04-07 01:45:00', 'Australia/Lord_Howe', '2024-04-06T14:45:00Z'],
    ['2024-04-07 02:30:00', 'Australia/Lord_Howe', '2024-04-06T16:00:00Z'],
    // A day that did not exist: Samoa skipped 2011-12-30.
    ['2011-12-30 12:00:00', 'Pacific/Apia', '2011-12-30T22:00:00Z'],
    // A text with its own zone keeps it.
    ['2024-07-01T12:00:00Z', 'Europe/Berlin', '2024-07-01T12:00:00Z'],
    ['2024-07-01 12:00:00+05:30', 'Europe/Berlin', '2024-07-01T06:30:00Z'],
  ])('%j in %s → %s', (text, zone, expected) => {
    expect(naiveTimestampToUtc(text, zone)).toBe(expected);
  });

  it('reads back the wall time Intl prints for any instant (the repeated hour as its earlier one)', () => {
    // Formatting the UTC result back in the zone gives the wall time we started from.
    const zones = ['Europe/Berlin', 'America/Los_Angeles', 'Asia/Tokyo', 'Australia/Adelaide'];
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('1990-01-01T00:00:00Z'),
          max: new Date('2037-12-31T00:00:00Z'),
          noInvalidDate: true,
        }),
        fc.constantFrom(...zones),
        (instant, zone) => {
          const wall = new Intl.DateTimeFormat('sv-SE', {
            timeZone: zone,
            year: 'numeric',
            month: '2-digit',
            day: '2-digit',
            hour: '2-digit',
            minute: '2-digit',
            second: '2-digit',
            hourCycle: 'h23',
          }).format(instant);
          const back = naiveTimestampToUtc(wall, zone);
          const exact = `${instant.toISOString().slice(0, 19)}Z`;
          // The one ambiguity: a wall time of the repeated hour reads as its earlier instant.
          if (back !== exact) expect(Date.parse(exact) - Date.parse(back)).toBe(3600_000);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses text that is no timestamp, and an unknown zone', () => {
    expect(() => naiveTimestampToUtc('31.01.2024 10:00', 'Europe/Berlin')).toThrow(
      new CanonicalValueError(
        '31.01.2024 10:00',
        'expected an ISO 8601 timestamp with a real date and time (got "31.01.2024 10:00")',
      ),
    );
    expect(() => naiveTimestampToUtc('2024-02-30 10:00', 'Europe/Berlin')).toThrow(CanonicalValueError);
    expect(() => naiveTimestampToUtc('2024-01-31 10:00', 'Mars/Olympus')).toThrow(
      'unknown time zone "Mars/Olympus": expected an IANA zone such as "Europe/Berlin"',
    );
  });
});

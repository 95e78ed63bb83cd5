// Real-world values per canonical type, each with its canonical form or its rejection (the README
// "Canonical values" table in test form). Postgres is the referee: where it reads the same text,
// it must read the same value as our canonical form (or refuse it, when we refuse); the few
// places where we knowingly differ are marked. Then the values go through the one write path,
// and a Twenty-shaped CRM whose amounts are micros stages every row.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDeadLetters } from '../../staging/control/dead-letters.js';
import {
  CANONICAL_SCHEMAS,
  normaliseCanonical,
  validateCanonical,
} from '../../staging/model/canonical-schemas.js';
import { readCanonicalValue } from '../../staging/model/canonical-values.js';
import type { FieldType } from '../../staging/model/entities.js';
import { stageUnit } from '../../staging/stage.js';
import { serverUrl, useTestDatabase } from '../support/database.js';
import { up } from '../support/fixtures.js';
import { createSourceDatabase, type SourceDb, syncOnce, systemConfig } from '../support/postgres.js';

/**
 * One row: what a source sends, and its canonical value (`null` for an empty value) or the
 * rejection message (`{ error }`). `postgres`: how Postgres' own input function differs, when it
 * does — `'accepts'`: Postgres stores it and we refuse it on purpose; `'rejects'`: we read text
 * Postgres does not. Unmarked string rows: Postgres reads the same value, or refuses it too.
 */
interface Row {
  from: string;
  input: unknown;
  canonical?: unknown;
  error?: string;
  postgres?: 'accepts' | 'rejects';
}
const ok = (from: string, input: unknown, canonical: unknown, postgres?: 'rejects'): Row => ({
  from,
  input,
  canonical,
  ...(postgres ? { postgres } : {}),
});
const no = (from: string, input: unknown, error: string, postgres?: 'accepts'): Row => ({
  from,
  input,
  error,
  ...(postgres ? { postgres } : {}),
});

const EXPECTED_DECIMAL = 'expected a decimal number such as "1234.50"';
const COMMA_HINT =
  '; a decimal comma or digit grouping needs the system number format (decimalSeparator, thousandsSeparator)';
const FINITE = 'is not an amount: a canonical decimal is a finite number';

const TABLE: Record<Exclude<FieldType, 'json'>, Row[]> = {
  decimal: [
    ok('Postgres numeric / 1000000.0 (Twenty micros)', '1001.0000000000000000', '1001'),
    ok('Postgres numeric(12,2), Salesforce, HubSpot', '1234.50', '1234.5'),
    ok('a credit note', '-0.50', '-0.5'),
    ok('zero with a scale', '0.00', '0'),
    ok('negative zero', '-0', '0'),
    ok('zero-padded fixed-width export', '0001234.5600', '1234.56'),
    ok('blank-padded fixed-width export', '  12.30 ', '12.3'),
    ok('exponent (Postgres numeric input accepts it)', '1e3', '1000'),
    ok('small exponent', '1.5E-3', '0.0015'),
    ok('explicit plus sign', '+42', '42'),
    ok('no integer digits', '.5', '0.5'),
    ok('no fraction digits', '5.', '5'),
    ok('Postgres 16+ digit separators', '1_000_000.50', '1000000.5'),
    ok('Postgres 16+ hexadecimal integer', '0x1F', '31'),
    ok('numeric 1/3: every digit kept', '0.33333333333333333333', '0.33333333333333333333'),
    ok(
      'beyond 28 integer and 12 fraction digits',
      '123456789012345678901234567890.123456789012345678901234567890',
      '123456789012345678901234567890.12345678901234567890123456789',
    ),
    ok('JSON number (REST APIs)', 1234.5, '1234.5'),
    ok('JSON number 0.1 (its shortest spelling)', 0.1, '0.1'),
    ok('JSON number that prints with an exponent', 1e21, '1000000000000000000000'),
    ok('tiny JSON number', 1e-7, '0.0000001'),
    ok('int8 read as a BigInt', 12345678901234567890n, '12345678901234567890'),
    ok('empty CSV cell, cleared HubSpot property', '', null, 'rejects'),
    no('Postgres numeric NaN', 'NaN', `NaN ${FINITE} (got "NaN")`, 'accepts'),
    no('Postgres numeric Infinity', 'Infinity', `Infinity ${FINITE} (got "Infinity")`, 'accepts'),
    no('Postgres numeric -inf', '-inf', `inf ${FINITE} (got "-inf")`, 'accepts'),
    no('JSON NaN from a float computation', Number.NaN, `NaN ${FINITE} (got NaN)`),
    no('German number format', '1.234,50', `${EXPECTED_DECIMAL}${COMMA_HINT} (got "1.234,50")`),
    no('decimal comma', '12,5', `${EXPECTED_DECIMAL}${COMMA_HINT} (got "12,5")`),
    no('currency symbol', '€ 12.50', `${EXPECTED_DECIMAL} (got "€ 12.50")`),
    no('placeholder text', 'n/a', `${EXPECTED_DECIMAL} (got "n/a")`),
    no('a boolean', true, `${EXPECTED_DECIMAL} (got true)`),
    no(
      'beyond what numeric stores',
      '1e200000',
      'has more digits than Postgres numeric stores (131072 before the point, 16383 after it) (got "1e200000")',
    ),
  ],
  currency: [
    ok('ISO 4217', 'EUR', 'EUR'),
    ok('lower case (Stripe)', 'eur', 'EUR'),
    ok('mixed case, padded', ' Usd ', 'USD'),
    ok('empty', '', null, 'rejects'),
    no(
      'symbol',
      '€',
      'expected an ISO 4217 code such as "EUR"; map symbols and names with a value map (got "€")',
    ),
    no(
      'name',
      'EURO',
      'expected an ISO 4217 code such as "EUR"; map symbols and names with a value map (got "EURO")',
    ),
    no(
      'NetSuite currency internal id',
      '1',
      'expected an ISO 4217 code such as "EUR"; a numeric code or internal id (NetSuite) needs a value map (got "1")',
    ),
    no('ISO numeric code as a JSON number', 978, 'expected an ISO 4217 code such as "EUR" (got 978)'),
  ],
  date: [
    ok('ISO date', '2024-01-31', '2024-01-31'),
    ok('one-digit month and day', '2024-1-5', '2024-01-05'),
    ok('SAP DATS', '20240131', '2024-01-31'),
    ok('HubSpot date property (midnight UTC)', '2024-01-31T00:00:00.000Z', '2024-01-31'),
    ok('Postgres timestamptz text mapped to a date', '2024-01-31 15:00:00+02', '2024-01-31'),
    ok('late evening west of UTC: the date as written', '2024-01-31T23:30:00-05:00', '2024-01-31'),
    ok('date with Z', '2024-01-31Z', '2024-01-31'),
    ok('XML Schema date with an offset (SOAP)', '2024-01-31-08:00', '2024-01-31', 'rejects'),
    ok('empty', '', null, 'rejects'),
    no('impossible day', '2024-02-30', 'not a real date'),
    no('year 0', '0000-01-01', 'not a real date'),
    no('SAP initial date', '00000000', 'not a real date'),
    no(
      'German order',
      '31.01.2024',
      'expected a date YYYY-MM-DD; other orders need the system dateFormat (parseDate) (got "31.01.2024")',
    ),
    no(
      'US order (Postgres reads it by DateStyle)',
      '01/31/2024',
      'expected a date YYYY-MM-DD; other orders need the system dateFormat (parseDate) (got "01/31/2024")',
      'accepts',
    ),
    no(
      'Postgres infinity',
      'infinity',
      'expected a date YYYY-MM-DD; Postgres "infinity" is not a calendar date (got "infinity")',
      'accepts',
    ),
    no('English text', 'Jan 31, 2024', 'expected a date YYYY-MM-DD (got "Jan 31, 2024")', 'accepts'),
    no(
      'a JS Date',
      new Date('2024-01-31T00:00:00Z'),
      'expected a date YYYY-MM-DD; a JS Date is an instant, and its calendar day depends on a time zone (got a Date)',
    ),
  ],
  timestamp: [
    ok('UTC', '2024-01-31T10:00:00Z', '2024-01-31T10:00:00Z'),
    ok('Salesforce Bulk CSV', '2024-01-31T10:00:00.000Z', '2024-01-31T10:00:00Z'),
    ok('Salesforce REST', '2024-01-31T10:00:00.000+0000', '2024-01-31T10:00:00Z'),
    ok('Postgres timestamptz text', '2024-01-31 10:00:00.123456+00', '2024-01-31T10:00:00.123456Z'),
    ok('offset east', '2024-01-31 10:00:00+05:30', '2024-01-31T04:30:00Z'),
    ok('offset west, hours only', '2024-01-31T10:00:00-08', '2024-01-31T18:00:00Z'),
    ok('naive (Odoo write_date is UTC)', '2024-01-31 10:00:00', '2024-01-31T10:00:00Z'),
    ok('no seconds', '2024-01-31T10:00', '2024-01-31T10:00:00Z'),
    ok('UTC spelled out (BigQuery)', '2024-01-31 10:00:00 UTC', '2024-01-31T10:00:00Z'),
    ok('a bare date', '2024-01-31', '2024-01-31T00:00:00Z'),
    ok('nanoseconds, rounded to microseconds', '2024-01-31T10:00:00.1234567Z', '2024-01-31T10:00:00.123457Z'),
    ok('leap second', '2016-12-31T23:59:60Z', '2017-01-01T00:00:00Z'),
    ok('24:00 (end of day)', '2024-01-31T24:00:00Z', '2024-02-01T00:00:00Z'),
    ok('a JS Date', new Date('2024-01-31T10:00:00.500Z'), '2024-01-31T10:00:00.5Z'),
    ok('empty', '', null, 'rejects'),
    no(
      'impossible day',
      '2024-02-30T10:00:00Z',
      'expected an ISO 8601 timestamp with a real date and time (got "2024-02-30T10:00:00Z")',
    ),
    no(
      'offset out of range',
      '2024-01-31T10:00:00+16:00',
      'expected an ISO 8601 timestamp with a real date and time (got "2024-01-31T10:00:00+16:00")',
    ),
    no(
      'epoch seconds',
      '1706695200',
      'expected an ISO 8601 timestamp with a real date and time; epoch numbers need converting by the connector (got "1706695200")',
    ),
    no(
      'German order',
      '31.01.2024 10:00',
      'expected an ISO 8601 timestamp with a real date and time (got "31.01.2024 10:00")',
    ),
    no(
      'in UTC before year 1 (Postgres would store 0001-12-31 BC)',
      '0001-01-01T00:30:00+01:00',
      'expected an ISO 8601 timestamp with a real date and time in years 0001–9999 (got "0001-01-01T00:30:00+01:00")',
      'accepts',
    ),
    no(
      'hour 24 past midnight',
      '2024-01-31T24:30:00Z',
      'expected an ISO 8601 timestamp with a real date and time (got "2024-01-31T24:30:00Z")',
    ),
  ],
  boolean: [
    ok('JSON', true, true),
    ok('JSON', false, false),
    ok('Postgres text', 't', true),
    ok('Postgres text', 'f', false),
    ok('NetSuite', 'T', true),
    ok('NetSuite', 'F', false),
    ok('text', 'true', true),
    ok('text', 'FALSE', false),
    ok('text', 'yes', true),
    ok('text', 'No', false),
    ok('Y/N flags', 'Y', true),
    ok('Y/N flags', 'N', false),
    ok('text', '1', true),
    ok('text', '0', false),
    ok('integer column, JSON', 1, true),
    ok('integer column, JSON', 0, false),
    ok('text', 'on', true),
    ok('text', ' off ', false),
    ok('empty', '', null, 'rejects'),
    no('text', 'maybe', 'expected a boolean (true/false, t/f, yes/no, y/n, on/off, 1/0) (got "maybe")'),
    no(
      'SAP flag (needs a value map)',
      'X',
      'expected a boolean (true/false, t/f, yes/no, y/n, on/off, 1/0) (got "X")',
    ),
    no('a count', 2, 'expected a boolean (true/false, t/f, yes/no, y/n, on/off, 1/0) (got 2)'),
  ],
  text: [
    ok('name', 'ACME GmbH', 'ACME GmbH'),
    ok('padding is kept (the text comparator trims)', '  ACME  ', '  ACME  '),
    ok('email as it comes', 'John.Doe@Example.COM', 'John.Doe@Example.COM'),
    ok('email with a display name', 'Jane Roe <jane@example.com>', 'Jane Roe <jane@example.com>'),
    ok('phone as it comes', '+49 (0)30 1234-5678', '+49 (0)30 1234-5678'),
    ok('phone URI', 'tel:+49-30-1234', 'tel:+49-30-1234'),
    ok('an empty string stays one', '', ''),
    ok('integer id as a JSON number', 1001, '1001'),
    ok('int8 id as a BigInt', 9007199254740993n, '9007199254740993'),
    no('NUL character', 'a\u0000b', 'contains a NUL character (\\u0000), which Postgres cannot store'),
    no('a boolean', true, 'expected text (got true)'),
    no('an object', { a: 1 }, 'expected text (got an object)'),
  ],
};

describe('canonical values: what real sources send', () => {
  for (const [type, rows] of Object.entries(TABLE) as [FieldType, Row[]][])
    describe(type, () => {
      it.each(rows.map((r) => [r.from, r.input, r] as const))('%s: %o', (_from, input, row) => {
        const read = readCanonicalValue(type, input);
        if (row.error === undefined) expect(read).toEqual({ ok: true, value: row.canonical });
        else expect(read).toEqual({ ok: false, reason: row.error });
      });
    });

  it('json: any JSON value without NUL characters, unchanged', () => {
    for (const v of [['INV-1', 'INV-2'], { a: [1, 'x'] }, 'text', 12.5, true])
      expect(readCanonicalValue('json', v)).toEqual({ ok: true, value: v });
    expect(readCanonicalValue('json', ['a\u0000'])).toEqual({
      ok: false,
      reason: 'must be JSON without NUL characters (\\u0000), which Postgres cannot store',
    });
  });

  it('a record: normalised field by field, each problem named with its field and value', () => {
    const fields = { credit_limit: '1001.0000', currency: 'eur', name: 'ACME' };
    expect(normaliseCanonical('customer', fields)).toEqual({
      ok: true,
      fields: { credit_limit: '1001', currency: 'EUR', name: 'ACME' },
    });
    const canonical = { credit_limit: '1001', currency: 'EUR', name: 'ACME' };
    expect((normaliseCanonical('customer', canonical) as { fields: unknown }).fields).toBe(canonical);
    expect(CANONICAL_SCHEMAS.customer.parse(fields)).toEqual(canonical);
    expect(validateCanonical('customer', { credit_limit: '1.234,50', currency: '€', name: 'x' })).toBe(
      `credit_limit: ${EXPECTED_DECIMAL}${COMMA_HINT} (got "1.234,50"); currency: expected an ISO 4217 code such as "EUR"; map symbols and names with a value map (got "€")`,
    );
    expect(validateCanonical('customer', { credit_limit: 'NaN', nickname: 'x' })).toMatch(
      /^credit_limit: NaN is not an amount.*; \(record\): Unrecognized key: "nickname"$/,
    );
  });
});

const t = useTestDatabase('values');

/** Whether Postgres reads `text` as `type` and, if so, whether it equals `canonical` read likewise. */
async function postgresReads(type: string, text: string, canonical?: string): Promise<boolean | null> {
  try {
    const res = await t.staging.pool.query<{ same: boolean }>(`SELECT $1::${type} = $2::${type} AS same`, [
      text,
      canonical ?? text,
    ]);
    return res.rows[0]!.same;
  } catch {
    return null;
  }
}

describe('Postgres as the referee', () => {
  const SQL: Record<Exclude<FieldType, 'json' | 'text' | 'currency'>, string> = {
    decimal: 'numeric',
    date: 'date',
    timestamp: 'timestamptz',
    boolean: 'boolean',
  };
  for (const [type, pgType] of Object.entries(SQL) as [keyof typeof SQL, string][])
    it(`${type}: Postgres reads the same value from the source text, or refuses it too`, async () => {
      // Timestamps without a zone are UTC in trueup; Postgres reads them in the session zone.
      if (type === 'timestamp') await t.staging.pool.query(`SET TimeZone = 'UTC'`);
      for (const row of TABLE[type].filter((r) => typeof r.input === 'string')) {
        const text = row.input as string;
        const label = `${type} ${JSON.stringify(text)} (${row.from})`;
        if (row.error !== undefined) {
          const theirs = await postgresReads(pgType, text);
          if (row.postgres === 'accepts') expect(theirs, label).not.toBeNull();
          else expect(theirs, label).toBeNull();
        } else if (row.postgres === 'rejects') expect(await postgresReads(pgType, text), label).toBeNull();
        else expect(await postgresReads(pgType, text, String(row.canonical)), label).toBe(true);
      }
    });
});

describe('the write path stages canonical values', () => {
  it('normalises on the way in and reads back exactly the canonical form', async () => {
    const decimals = TABLE.decimal.filter((r) => r.error === undefined);
    const dates = TABLE.date.filter((r) => r.error === undefined);
    // sourceUpdatedAt: the timestamps a change carries (strings).
    const stamps = TABLE.timestamp.filter(
      (r) => r.error === undefined && r.canonical !== null && typeof r.input === 'string',
    );
    const booleans = TABLE.boolean.filter((r) => r.error === undefined);
    const currencies = TABLE.currency.filter((r) => r.error === undefined);
    const res = await stageUnit(t.staging.pool, {
      tenant: 'values',
      system: 'crm',
      location: 'table',
      batches: [
        {
          entity: 'customer',
          changes: decimals.map((r, i) => ({
            ...up(
              `d${i}`,
              1n,
              { credit_limit: r.input, currency: currencies[i % currencies.length]!.input },
              { row: i },
            ),
            sourceUpdatedAt: stamps[i % stamps.length]!.input as string,
          })),
        },
        {
          entity: 'invoice',
          changes: dates.map((r, i) => up(`i${i}`, 1n, { due_date: r.input }, { row: i })),
        },
        {
          entity: 'product',
          changes: booleans.map((r, i) => up(`p${i}`, 1n, { active: r.input }, { row: i })),
        },
      ],
    });
    expect([res.customer?.deadLettered, res.invoice?.deadLettered, res.product?.deadLettered]).toEqual([
      0, 0, 0,
    ]);
    const q = async (sql: string) => (await t.staging.pool.query(sql)).rows;
    const customers = await q(
      `SELECT source_id, credit_limit::text AS v, currency,
              to_char(source_updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
                || rtrim('.' || to_char(source_updated_at AT TIME ZONE 'UTC', 'US'), '.0') || 'Z' AS u
         FROM staging.customer WHERE tenant_id = 'values' ORDER BY length(source_id), source_id`,
    );
    expect(customers.map((c) => c.v)).toEqual(decimals.map((r) => r.canonical));
    expect(customers.map((c) => c.currency)).toEqual(
      decimals.map((_r, i) => currencies[i % currencies.length]!.canonical),
    );
    expect(customers.map((c) => c.u)).toEqual(decimals.map((_r, i) => stamps[i % stamps.length]!.canonical));
    const invoices = await q(
      `SELECT due_date::text AS v FROM staging.invoice WHERE tenant_id = 'values' ORDER BY length(source_id), source_id`,
    );
    expect(invoices.map((r) => r.v)).toEqual(dates.map((r) => r.canonical));
    const products = await q(
      `SELECT active AS v FROM staging.product WHERE tenant_id = 'values' ORDER BY length(source_id), source_id`,
    );
    expect(products.map((r) => r.v)).toEqual(booleans.map((r) => r.canonical));
  });

  it('dead-letters a rejected value with field and value in the message; the batch goes on', async () => {
    const res = await stageUnit(t.staging.pool, {
      tenant: 'values_bad',
      system: 'erp',
      location: 'export.json',
      batches: [
        {
          entity: 'customer',
          changes: [
            up('good', 1n, { credit_limit: '1001.0000000000000000' }),
            up('nan', 1n, { credit_limit: 'NaN' }),
            up('comma', 1n, { credit_limit: '1.234,50' }),
          ],
        },
      ],
    });
    expect(res.customer).toMatchObject({ received: 3, inserted: 1, deadLettered: 2 });
    const dl = await listDeadLetters(t.staging.db, { tenant: 'values_bad' });
    expect(dl.map((d) => [d.sourceId, d.errorMessage]).sort()).toEqual([
      ['comma', `customer "comma": credit_limit: ${EXPECTED_DECIMAL}${COMMA_HINT} (got "1.234,50")`],
      ['nan', `customer "nan": credit_limit: NaN ${FINITE} (got "NaN")`],
    ]);
  });
});

describe('a Twenty CRM on Postgres, amounts in micros mapped with "x" / 1000000.0', () => {
  let src: SourceDb;
  beforeAll(async () => {
    src = await createSourceDatabase(serverUrl(), 'twenty');
  });
  afterAll(async () => src?.drop());

  const schema = 'workspace_1wgvd1injqtife6y4rvfbu3h5';
  // The mapping in the issue (`/ 1000000.0`) and an exact one (`* 0.000001`): Postgres divides to
  // at least 16 significant digits, and multiplies exactly.
  const micros: [string, string | null, string | null][] = [
    // name, annualRecurringRevenueAmountMicros, currency code
    ['Whole', '1001000000', 'USD'],
    ['Cents', '1234560000', 'EUR'],
    ['Micro', '1', 'USD'],
    ['Odd micros', '1234567', 'usd'],
    ['Zero', '0', 'EUR'],
    ['Negative', '-500000', 'EUR'],
    ['Large', '999999999999999999999', 'JPY'],
    ['Null', null, null],
  ];
  // name → [credit_limit (/ 1000000.0), ar_balance (* 0.000001), currency]
  const expected: Record<string, [string | null, string | null, string | null]> = {
    Whole: ['1001', '1001', 'USD'],
    Cents: ['1234.56', '1234.56', 'EUR'],
    Micro: ['0.000001', '0.000001', 'USD'],
    'Odd micros': ['1.234567', '1.234567', 'USD'],
    Zero: ['0', '0', 'EUR'],
    Negative: ['-0.5', '-0.5', 'EUR'],
    Large: ['1000000000000000', '999999999999999.999999', 'JPY'],
    Null: [null, null, null],
    'Streamed whole': ['2500', '2500', 'EUR'],
    'Streamed fraction': ['0.1', '0.1', 'EUR'],
  };

  async function staged() {
    const res = await t.staging.pool.query<{
      name: string;
      c: string | null;
      a: string | null;
      cur: string | null;
    }>(
      `SELECT name, credit_limit::text AS c, ar_balance::text AS a, currency AS cur FROM staging.customer
        WHERE tenant_id = 'twenty' AND system = 'crm' AND deleted_at IS NULL ORDER BY name`,
    );
    return Object.fromEntries(res.rows.map((r) => [r.name, [r.c, r.a, r.cur]]));
  }

  it('stages every row, snapshot and stream, with the exact values and no dead letters', async () => {
    await src.pool.query(
      `INSERT INTO "${schema}".company ("name", "annualRecurringRevenueAmountMicros", "annualRecurringRevenueCurrencyCode")
       SELECT * FROM unnest($1::text[], $2::numeric[], $3::text[])`,
      [micros.map((m) => m[0]), micros.map((m) => m[1]), micros.map((m) => m[2])],
    );
    const slot = `e_micros_${Math.random().toString(36).slice(2, 8)}`;
    const config = systemConfig(src.url, {
      role: 'crm',
      slot,
      publication: slot,
      tables: [
        {
          schema,
          table: 'company',
          entity: 'customer',
          key: ['id'],
          softDelete: '"deletedAt" IS NOT NULL',
          updatedAt: 'updatedAt',
          fields: {
            name: 'name',
            credit_limit: { sql: '"annualRecurringRevenueAmountMicros" / 1000000.0' },
            ar_balance: { sql: '"annualRecurringRevenueAmountMicros" * 0.000001' },
            currency: 'annualRecurringRevenueCurrencyCode',
          },
        },
      ],
    });
    // What the source itself computes: scale 16, the form that used to be dead-lettered.
    const raw = await src.pool.query(
      `SELECT (1001000000::numeric / 1000000.0)::text AS v, (999999999999999999999::numeric / 1000000.0)::text AS l`,
    );
    expect(raw.rows[0]).toEqual({ v: '1001.0000000000000000', l: '1000000000000000.0000' });

    const first = await syncOnce(t.staging, config, { tenant: 'twenty', system: 'crm' });
    expect(first.error?.message).toBeUndefined();
    // Streamed rows go through the source's evaluation of the same expression.
    await src.pool.query(
      `INSERT INTO "${schema}".company ("name", "annualRecurringRevenueAmountMicros", "annualRecurringRevenueCurrencyCode")
       VALUES ('Streamed whole', 2500000000, 'eur'), ('Streamed fraction', 100000, 'EUR')`,
    );
    const second = await syncOnce(t.staging, config, { tenant: 'twenty', system: 'crm' });
    expect(second.error?.message).toBeUndefined();

    expect(await listDeadLetters(t.staging.db, { tenant: 'twenty' })).toEqual([]);
    expect(await staged()).toEqual(expected);
  });
});

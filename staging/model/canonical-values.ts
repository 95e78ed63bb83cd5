// One canonical value per field type: what a source plausibly sends is read into the one
// canonical spelling of its type, and anything else is refused with a reason that shows the
// value. The zod schemas and the write path's quick check (canonical-schemas.ts) are both built
// on these functions, so they cannot disagree. README "Canonical values" has the table.
//
//   text       a string as it came (no trimming, no case change); a JSON number or bigint
//              becomes its decimal text. No NUL characters, at most 1,000,000 characters.
//   decimal    see decimal-text.ts: any finite value Postgres numeric stores, exact, normalised
//   currency   three letters, upper-cased (`eur` → `EUR`)
//   date       `YYYY-MM-DD`, see date-text.ts readDate
//   timestamp  UTC `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`, see date-text.ts readTimestamp
//   boolean    true/false; also t/f, true/false, yes/no, y/n, on/off, 1/0 in any case, and 1/0
//   json       any JSON value without NUL characters
// For every type but text and json an empty (or blank) string is null: CSV files, Salesforce
// Bulk results and HubSpot properties write an absent value as "".

import { readDate, readTimestamp } from './date-text.js';
import { decimalFromNumber, type ReadResult, readDecimal } from './decimal-text.js';
import type { FieldType } from './entities.js';
import { showValue } from './value-error.js';

export const MAX_TEXT_LENGTH = 1_000_000;

export const NUL_MESSAGE = 'contains a NUL character (\\u0000), which Postgres cannot store';
export const JSON_MESSAGE = 'must be JSON without NUL characters (\\u0000), which Postgres cannot store';

/**
 * True when `json` (JSON text) holds a NUL character, i.e. a `\u0000` escape that is not itself
 * escaped text ("\\u0000"). Postgres text and jsonb cannot store U+0000.
 */
export function jsonHasNul(json: string): boolean {
  return json.includes('\\u0000') && /(?<!\\)(?:\\\\)*\\u0000/.test(json);
}

/** A json field's value: serialisable, and without NUL characters (neither in keys nor in strings). */
export function isStorableJson(v: unknown): boolean {
  try {
    const json = JSON.stringify(v);
    return json !== undefined && !jsonHasNul(json);
  } catch {
    return false; // a bigint or a cycle: it cannot be stored as jsonb
  }
}

const TRUE_WORDS = new Set(['t', 'true', 'y', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['f', 'false', 'n', 'no', 'off', '0']);

const NULL: ReadResult<unknown> = Object.freeze({ ok: true, value: null });
const fail = (reason: string): ReadResult<unknown> => ({ ok: false, reason });
const blank = (s: string) => s.trim() === '';

function readText(v: unknown): ReadResult<unknown> {
  if (typeof v === 'number')
    return Number.isFinite(v) ? decimalFromNumber(v) : fail(`expected text (got ${v})`);
  if (typeof v === 'bigint') return { ok: true, value: v.toString() };
  if (typeof v !== 'string') return fail(`expected text (got ${showValue(v)})`);
  if (v.includes('\0')) return fail(NUL_MESSAGE);
  if (v.length > MAX_TEXT_LENGTH)
    return fail(`longer than ${MAX_TEXT_LENGTH.toLocaleString('en')} characters (got ${v.length})`);
  return { ok: true, value: v };
}

function readDecimalValue(v: unknown): ReadResult<unknown> {
  if (typeof v === 'string') return blank(v) ? NULL : readDecimal(v);
  if (typeof v === 'number') return decimalFromNumber(v);
  if (typeof v === 'bigint') return { ok: true, value: v.toString() };
  return fail(`expected a decimal number such as "1234.50" (got ${showValue(v)})`);
}

function readCurrency(v: unknown): ReadResult<unknown> {
  if (typeof v === 'string') {
    const s = v.trim();
    if (!s) return NULL;
    if (/^[A-Za-z]{3}$/.test(s)) return { ok: true, value: s.toUpperCase() };
  }
  const hint =
    typeof v === 'string' && /^\d+$/.test(v.trim())
      ? '; a numeric code or internal id (NetSuite) needs a value map'
      : typeof v === 'string'
        ? '; map symbols and names with a value map'
        : '';
  return fail(`expected an ISO 4217 code such as "EUR"${hint} (got ${showValue(v)})`);
}

function readDateValue(v: unknown): ReadResult<unknown> {
  if (typeof v === 'string') return blank(v) ? NULL : readDate(v);
  if (v instanceof Date)
    return fail(
      'expected a date YYYY-MM-DD; a JS Date is an instant, and its calendar day depends on a time zone (got a Date)',
    );
  return fail(`expected a date YYYY-MM-DD (got ${showValue(v)})`);
}

function readTimestampValue(v: unknown): ReadResult<unknown> {
  if (typeof v === 'string') return blank(v) ? NULL : readTimestamp(v);
  if (v instanceof Date && !Number.isNaN(v.getTime())) return readTimestamp(v.toISOString());
  return fail(`expected an ISO 8601 timestamp with a real date and time (got ${showValue(v)})`);
}

function readBoolean(v: unknown): ReadResult<unknown> {
  if (typeof v === 'boolean') return { ok: true, value: v };
  if (v === 1 || v === 0 || v === 1n || v === 0n) return { ok: true, value: v === 1 || v === 1n };
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (!s) return NULL;
    if (TRUE_WORDS.has(s)) return { ok: true, value: true };
    if (FALSE_WORDS.has(s)) return { ok: true, value: false };
  }
  return fail(`expected a boolean (true/false, t/f, yes/no, y/n, on/off, 1/0) (got ${showValue(v)})`);
}

function readJson(v: unknown): ReadResult<unknown> {
  return isStorableJson(v) ? { ok: true, value: v } : fail(JSON_MESSAGE);
}

const READERS: Readonly<Record<FieldType, (v: unknown) => ReadResult<unknown>>> = {
  text: readText,
  decimal: readDecimalValue,
  currency: readCurrency,
  date: readDateValue,
  timestamp: readTimestampValue,
  boolean: readBoolean,
  json: readJson,
};

/**
 * A non-null source value → the canonical value of `type`, or the reason it is not one (the
 * reason shows the value; callers prefix the field name).
 */
export function readCanonicalValue(type: FieldType, value: unknown): ReadResult<unknown> {
  return READERS[type](value);
}

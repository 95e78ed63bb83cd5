// Reading decimal numbers as sources write them into the canonical decimal string. The rule: any
// value Postgres `numeric` stores is a canonical decimal, kept exact and written one way only —
// no exponent, no leading zeros, no trailing fraction zeros, no "-0" (`1001.0000000000000000` →
// `1001`, `-0.50` → `-0.5`, `1e3` → `1000`). NaN and ±Infinity, which an unconstrained numeric
// also stores, are not amounts and are refused. Rounding to a currency's minor unit is the money
// comparator's business, never the reader's.
import { CanonicalValueError, showValue } from './value-error.js';

/** What Postgres numeric holds: up to 131072 digits before the point, 16383 after it. */
export const NUMERIC_MAX_INTEGER_DIGITS = 131_072;
export const NUMERIC_MAX_FRACTION_DIGITS = 16_383;

/** A canonical decimal: the only spelling of its value (the write path's quick check). */
export const CANONICAL_DECIMAL_PATTERN =
  /^(?:-(?=[1-9]|0\.))?(?:0|[1-9]\d{0,131071})(?:\.\d{0,16382}[1-9])?$/;

// Postgres 16+ numeric input: optional sign; decimal digits with an optional point and exponent,
// or an integer in hex/octal/binary; single underscores between digits. Whitespace around it.
const NUMERIC_INPUT =
  /^([+-]?)(?:0[xX]((?:_?[0-9a-fA-F])+)|0[oO]((?:_?[0-7])+)|0[bB]((?:_?[01])+)|(\d(?:_?\d)*)?(?:\.(\d(?:_?\d)*)?)?(?:[eE]([+-]?\d(?:_?\d)*))?)$/;
const SPECIAL = /^[+-]?(?:nan|inf|infinity)$/i;
/** Exponents beyond this cannot give a storable value except zero (bounded work on hostile input). */
const MAX_EXPONENT = NUMERIC_MAX_INTEGER_DIGITS + NUMERIC_MAX_FRACTION_DIGITS;

export type ReadResult<T> = { ok: true; value: T } | { ok: false; reason: string };

const EXPECTED = 'expected a decimal number such as "1234.50"';

/**
 * Postgres numeric input text → canonical decimal string. Whitespace around the number is
 * ignored; an empty text is not a number (callers decide whether empty means null).
 */
export function readDecimal(text: string): ReadResult<string> {
  const s = text.trim();
  const m = NUMERIC_INPUT.exec(s);
  if (!m) return notANumber(text);
  const negative = m[1] === '-';
  if (m[2] !== undefined || m[3] !== undefined || m[4] !== undefined) {
    const prefix = m[2] !== undefined ? '0x' : m[3] !== undefined ? '0o' : '0b';
    const digits = BigInt(prefix + (m[2] ?? m[3] ?? m[4])!.replaceAll('_', '')).toString();
    return fromDigits(negative, digits, digits.length, text);
  }
  const whole = m[5]?.replaceAll('_', '') ?? '';
  const frac = m[6]?.replaceAll('_', '') ?? '';
  if (!whole && !frac) return notANumber(text);
  let exponent = 0;
  if (m[7] !== undefined) {
    exponent = Number(m[7].replaceAll('_', ''));
    if (Math.abs(exponent) > MAX_EXPONENT) {
      if (/^0*$/.test(whole + frac)) return { ok: true, value: '0' };
      return tooLarge(text);
    }
  }
  return fromDigits(negative, whole + frac, whole.length + exponent, text);
}

/** The digits of |value| with the point after `point` of them (may be ≤ 0 or past the end). */
function fromDigits(negative: boolean, digits: string, point: number, text: string): ReadResult<string> {
  let start = 0;
  while (start < digits.length && digits.charCodeAt(start) === 48 /* '0' */) start++;
  let end = digits.length;
  while (end > start && digits.charCodeAt(end - 1) === 48) end--;
  if (start === end) return { ok: true, value: '0' };
  const sig = digits.slice(start, end);
  const at = point - start; // the point's position within sig
  if (at > NUMERIC_MAX_INTEGER_DIGITS || sig.length - at > NUMERIC_MAX_FRACTION_DIGITS) return tooLarge(text);
  let body: string;
  if (at <= 0) body = `0.${'0'.repeat(-at)}${sig}`;
  else if (at >= sig.length) body = sig + '0'.repeat(at - sig.length);
  else body = `${sig.slice(0, at)}.${sig.slice(at)}`;
  return { ok: true, value: negative ? `-${body}` : body };
}

function notANumber(text: string): ReadResult<string> {
  const s = text.trim();
  if (SPECIAL.test(s))
    return {
      ok: false,
      reason: `${s.replace(/^[+-]/, '')} is not an amount: a canonical decimal is a finite number (got ${showValue(text)})`,
    };
  const hint = /^[+-]?[\d.,'\s\u00a0\u202f]+$/.test(s)
    ? '; a decimal comma or digit grouping needs the system number format (decimalSeparator, thousandsSeparator)'
    : '';
  return { ok: false, reason: `${EXPECTED}${hint} (got ${showValue(text)})` };
}

function tooLarge(text: string): ReadResult<string> {
  return {
    ok: false,
    reason: `has more digits than Postgres numeric stores (${NUMERIC_MAX_INTEGER_DIGITS} before the point, ${NUMERIC_MAX_FRACTION_DIGITS} after it) (got ${showValue(text)})`,
  };
}

/**
 * A JSON number → canonical decimal: its shortest round-trip spelling (what JSON.stringify
 * prints), so 0.1 stays 0.1. Digits beyond a double's ~16 significant ones are whatever the JSON
 * parser kept: a source that needs more sends strings.
 */
export function decimalFromNumber(n: number): ReadResult<string> {
  if (!Number.isFinite(n))
    return {
      ok: false,
      reason: `${Number.isNaN(n) ? 'NaN' : 'Infinity'} is not an amount: a canonical decimal is a finite number (got ${n})`,
    };
  return readDecimal(String(n));
}

export interface NumberFormat {
  /** The decimal mark: "." (1,234.50) or "," (1.234,50). */
  decimalSeparator: '.' | ',';
  /**
   * The digit-grouping mark, if the source groups digits: ",", ".", "'" (Swiss), " " (also
   * matches the no-break and narrow no-break spaces spreadsheets write), or "" / undefined for none.
   */
  thousandsSeparator?: ',' | '.' | "'" | ' ' | '';
}

const SPACES = /[ \u00a0\u202f]/g;

/**
 * A number as a locale writes it → canonical decimal string: `parseLocaleNumber('1.234,50',
 * {decimalSeparator: ',', thousandsSeparator: '.'})` → `"1234.5"`. Groups must be of three digits
 * (so `1.5` in that format is an error, not fifteen). A sign may lead, a minus may trail
 * (`1.234,50-`, as SAP writes it), and parentheses mean negative (`(1.234,50)`). No exponent, no
 * currency symbol. Throws CanonicalValueError naming the value and the format.
 */
export function parseLocaleNumber(text: string, format: NumberFormat): string {
  const dec = format.decimalSeparator;
  const group = format.thousandsSeparator ?? '';
  if (dec !== '.' && dec !== ',')
    throw new RangeError(`decimalSeparator must be "." or ",", got ${showValue(dec)}`);
  if (![',', '.', "'", ' ', ''].includes(group))
    throw new RangeError(`thousandsSeparator must be ",", ".", "'", " " or "", got ${showValue(group)}`);
  if (group === dec) throw new RangeError('decimalSeparator and thousandsSeparator must differ');
  const fail = () =>
    new CanonicalValueError(
      text,
      `${showValue(text)} is not a number in the format decimalSeparator ${showValue(dec)}, thousandsSeparator ${showValue(group)}`,
    );
  let s = text.trim();
  let negative = false;
  if (s.startsWith('(') && s.endsWith(')')) {
    negative = true;
    s = s.slice(1, -1).trim();
  }
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = negative !== (s[0] === '-');
    s = s.slice(1);
  } else if (s.endsWith('-')) {
    negative = !negative;
    s = s.slice(0, -1);
  }
  if (group === ' ') s = s.replace(SPACES, ' ');
  const point = s.lastIndexOf(dec);
  const whole = point < 0 ? s : s.slice(0, point);
  const frac = point < 0 ? '' : s.slice(point + 1);
  if (!/^\d*$/.test(frac) || (!whole && !frac)) throw fail();
  let digits = whole;
  if (group && whole.includes(group)) {
    const parts = whole.split(group);
    if (!/^\d{1,3}$/.test(parts[0]!) || parts.slice(1).some((p) => !/^\d{3}$/.test(p))) throw fail();
    digits = parts.join('');
  } else if (!/^\d*$/.test(whole)) throw fail();
  const read = readDecimal(`${negative ? '-' : ''}${digits || '0'}.${frac || '0'}`);
  if (!read.ok) throw new CanonicalValueError(text, read.reason);
  return read.value;
}

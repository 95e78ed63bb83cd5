// Money and currency helpers. Amounts travel as decimal strings ("1234.50") or integer minor
// units (bigint) — never as binary floats — because a float cannot hold 0.1 exactly and finance
// reviews these numbers to the cent. Reading source text into decimals: decimal-text.ts.
import { readDecimal } from './decimal-text.js';

/** ISO 4217 minor-unit exponents that differ from 2. Every other currency code uses 2. */
const MINOR_UNITS: Readonly<Record<string, number>> = Object.freeze({
  BHD: 3,
  IQD: 3,
  JOD: 3,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  TND: 3,
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  ISK: 0,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  PYG: 0,
  RWF: 0,
  UGX: 0,
  UYI: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
  CLF: 4,
  UYW: 4,
});

export const CURRENCY_PATTERN = /^[A-Z]{3}$/;
/**
 * A plain decimal string, as Postgres prints a numeric: any size numeric holds (131072 digits
 * before the point, 16383 after), no exponent. Canonical decimals are this and normalised
 * (decimal-text.ts CANONICAL_DECIMAL_PATTERN); source text is read with readDecimal.
 */
export const DECIMAL_PATTERN = /^-?\d{1,131072}(\.\d{1,16383})?$/;

/** Number of minor-unit digits of an ISO 4217 currency (2 unless listed). */
export function minorUnits(currency: string): number {
  if (!CURRENCY_PATTERN.test(currency))
    throw new RangeError(`not an ISO 4217 currency code: ${JSON.stringify(currency)}`);
  return MINOR_UNITS[currency] ?? 2;
}

/** Exact conversion of a decimal string to a scaled bigint with `scale` fraction digits, rounding half away from zero. */
export function decimalToScaled(value: string, scale: number): bigint {
  const text = value.trim();
  if (!DECIMAL_PATTERN.test(text)) throw new RangeError(`not a decimal number: ${JSON.stringify(value)}`);
  const negative = text.startsWith('-');
  const [whole = '0', frac = ''] = (negative ? text.slice(1) : text).split('.');
  const kept = frac.slice(0, scale).padEnd(scale, '0');
  let scaled = BigInt(whole + kept);
  const next = frac.charCodeAt(scale);
  if (!Number.isNaN(next) && next >= 53 /* '5' */) scaled += 1n;
  return negative ? -scaled : scaled;
}

/** Decimal string → integer minor units of its currency (JPY 0, USD 2, BHD 3 digits). */
export function toMinorUnits(value: string, currency: string): bigint {
  return decimalToScaled(value, minorUnits(currency));
}

/** Integer minor units → canonical decimal string of that currency ("12.30", "1200", "0.125"). */
export function fromMinorUnits(minor: bigint, currency: string): string {
  const scale = minorUnits(currency);
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const frac = scale > 0 ? `.${digits.slice(digits.length - scale)}` : '';
  return `${negative ? '-' : ''}${whole}${frac}`;
}

/**
 * Normalises a decimal string to its canonical spelling: no leading zeros, no trailing fraction
 * zeros, no exponent ("001.500" → "1.5", "1e3" → "1000"); accepts whatever Postgres numeric
 * input accepts but NaN and Infinity (RangeError).
 */
export function normaliseDecimal(value: string): string {
  const read = readDecimal(value);
  if (!read.ok) throw new RangeError(`not a decimal number: ${JSON.stringify(value)}`);
  return read.value;
}

// Exact decimal arithmetic on canonical decimal strings (never floats): what materiality needs.
import { DECIMAL_PATTERN, decimalToScaled, normaliseDecimal } from '../../staging/model/money.js';

const SCALE = 12;

export function isDecimal(v: unknown): v is string {
  return typeof v === 'string' && DECIMAL_PATTERN.test(v.trim());
}

function fromScaled(n: bigint): string {
  const neg = n < 0n;
  const digits = (neg ? -n : n).toString().padStart(SCALE + 1, '0');
  return normaliseDecimal(`${neg ? '-' : ''}${digits.slice(0, -SCALE)}.${digits.slice(-SCALE)}`);
}

/** |a − b| as a normalised decimal string. */
export function absDiff(a: string, b: string): string {
  const d = decimalToScaled(a, SCALE) - decimalToScaled(b, SCALE);
  return fromScaled(d < 0n ? -d : d);
}

export function addDecimal(a: string, b: string): string {
  return fromScaled(decimalToScaled(a, SCALE) + decimalToScaled(b, SCALE));
}

/** Negative, zero or positive like a comparator. */
export function compareDecimal(a: string, b: string): number {
  const d = decimalToScaled(a, SCALE) - decimalToScaled(b, SCALE);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

// The error of the value readers (parseLocaleNumber, parseDate, naiveTimestampToUtc): a source
// value that cannot be read as the canonical value it should be. Terminal: the record it belongs
// to becomes a dead letter, and the message names the value and what was expected.
import { TrueupError } from './errors.js';

export class CanonicalValueError extends TrueupError {
  override name = 'CanonicalValueError';
  constructor(
    readonly value: unknown,
    message: string,
  ) {
    super(message, { kind: 'terminal' });
  }
}

/** A value as a message shows it: strings quoted (and cut when long), other kinds named. */
export function showValue(value: unknown): string {
  if (typeof value === 'string') {
    if (value.length <= 60) return JSON.stringify(value);
    return `${JSON.stringify(value.slice(0, 40)).slice(0, -1)}…" (${value.length} characters)`;
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid Date' : 'a Date';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value === 'object' ? 'object' : typeof value}`.replace(/^a (?=[aeiou])/, 'an ');
}

// Whether two values of a canonical field are the same value, whatever spelling each side gave
// ("100.50" and "100.5", "t" and true, a timestamp with and without its zone): the write-back's
// compare-and-set and its crash resolution compare what a system holds now with what
// reconciliation saw or what was written. Text is compared as it is, except that null and ""
// are one value (Salesforce's Bulk CSV and HubSpot cannot tell them apart).
import { readCanonicalValue } from '../../../staging/model/canonical-values.js';
import { ENTITY_FIELDS, type Entity, type FieldType } from '../../../staging/model/entities.js';

function spelled(type: FieldType, v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (type === 'text' || type === 'json') {
    if (v === '') return null;
    return type === 'json' ? stableJson(typeof v === 'string' ? parse(v) : v) : String(v);
  }
  const r = readCanonicalValue(type, v);
  return r.ok ? r.value : `unreadable:${String(v)}`;
}

/** True when `a` and `b` are the same value of a field of `type`. */
export function sameValue(type: FieldType, a: unknown, b: unknown): boolean {
  return spelled(type, a) === spelled(type, b);
}

/** True when `a` and `b` are the same value of `entity`'s `field` (text when the field is unknown). */
export function sameFieldValue(entity: Entity, field: string, a: unknown, b: unknown): boolean {
  const type = ENTITY_FIELDS[entity].find((d) => d.name === field)?.type ?? 'text';
  return sameValue(type, a, b);
}

/** Microseconds since the epoch of an ISO 8601 instant (fractions past the millisecond kept); null if unreadable. */
export function instantMicros(iso: string | null | undefined): bigint | null {
  if (!iso) return null;
  const m = /^(.*?[T ]\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}(?::?\d{2})?)?$/i.exec(iso.trim());
  if (!m) return null;
  const zone = m[3] ? (/^[+-]\d{2}$/.test(m[3]) ? `${m[3]}:00` : m[3]) : 'Z';
  const ms = Date.parse(`${m[1]!.replace(' ', 'T')}${zone}`);
  if (Number.isNaN(ms)) return null;
  const frac = (m[2] ?? '').padEnd(6, '0').slice(0, 6);
  return BigInt(ms) * 1000n + BigInt(frac || '0');
}

function parse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([p], [q]) => p.localeCompare(q)))
      : x,
  );
}

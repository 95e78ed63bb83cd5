// Maps one flat source record (HubSpot properties, a SuiteQL row: string values) onto canonical
// fields: canonical field ← source field, per-field value maps, and normalisation by the
// canonical type (dates cut to YYYY-MM-DD, currency codes upper-cased, booleans from
// 'true'/'T'). Values that still do not fit are left as they are, so the staging write path
// dead-letters the record with the validator's reason. Shared by the hubspot and netsuite connectors.
import { ENTITY_FIELDS, type Entity, type FieldType } from '../../staging/model/entities.js';

export interface FieldMapping {
  /** canonical field → source field */
  fields: Readonly<Record<string, string>>;
  /** canonical field → (source value → canonical value) */
  valueMaps?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/** Defaults overridden field by field; a value map replaces the default one for that field. */
export function mergeMapping(
  base: FieldMapping,
  override:
    | { fields?: Record<string, string>; valueMaps?: Record<string, Record<string, string>> }
    | undefined,
): FieldMapping {
  if (!override) return base;
  return {
    fields: { ...base.fields, ...override.fields },
    valueMaps: { ...base.valueMaps, ...override.valueMaps },
  };
}

export class MappingError extends Error {
  override name = 'MappingError';
  readonly kind = 'terminal' as const;
}

/** Canonical fields of `row`; throws MappingError when the mapping names an unknown canonical field. */
export function mapRecord(
  entity: Entity,
  mapping: FieldMapping,
  get: (sourceField: string) => unknown,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const defs = ENTITY_FIELDS[entity];
  for (const [canonical, source] of Object.entries(mapping.fields)) {
    const def = defs.find((d) => d.name === canonical);
    if (!def) throw new MappingError(`${entity} has no canonical field "${canonical}"`);
    let v = get(source);
    if (v === undefined || v === null || v === '') {
      out[canonical] = null;
      continue;
    }
    const map = mapping.valueMaps?.[canonical];
    if (map && typeof v === 'string' && map[v] !== undefined) v = map[v];
    out[canonical] = normalise(def.type, v);
  }
  return out;
}

function normalise(type: FieldType, v: unknown): unknown {
  switch (type) {
    case 'text':
      return typeof v === 'string' ? v : String(v);
    case 'decimal':
      return typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : v;
    case 'currency':
      return typeof v === 'string' ? v.trim().toUpperCase() : v;
    case 'date':
      return toDate(v);
    case 'timestamp':
      return typeof v === 'string' && /^\d{12,}$/.test(v) ? new Date(Number(v)).toISOString() : v;
    case 'boolean':
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === 'T') return true;
      if (v === 'false' || v === 'F') return false;
      return v;
    case 'json':
      return v;
  }
}

function toDate(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  // HubSpot date properties may come as epoch milliseconds; SuiteQL as 'YYYY-MM-DD …'.
  if (/^\d{12,}$/.test(v)) return new Date(Number(v)).toISOString().slice(0, 10);
  if (/^\d{4}-\d{2}-\d{2}([T ].*)?$/.test(v)) return v.slice(0, 10);
  return v;
}

/** Parses a modification stamp (ISO 8601, or epoch milliseconds as text) into epoch ms. */
export function parseStampMs(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v !== 'string' || !v) return null;
  if (/^\d{12,}$/.test(v)) return Number(v);
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? null : ms;
}

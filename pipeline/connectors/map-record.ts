// Mapping of source records onto canonical fields, shared by the API and file connectors:
// - the tenant's per-entity overrides (`tenants.<t>.entities.<entity>.mapping.<system>` and
//   `entities.<entity>.mappingVersion`), read the same way by salesforce, hubspot, netsuite and
//   csv (tenantEntityMapping), and merged over a connector's defaults (mergeMapping);
// - one flat source record (HubSpot properties, a SuiteQL row: string values) mapped onto
//   canonical fields: canonical field ← source field, per-field value maps, and normalisation by
//   the canonical type (dates cut to YYYY-MM-DD, currency codes upper-cased, booleans from
//   'true'/'T'). Values that still do not fit are left as they are, so the staging write path
//   dead-letters the record with the validator's reason.
import type { Change } from '../../staging/model/change.js';
import { ENTITY_FIELDS, type Entity, type FieldType } from '../../staging/model/entities.js';
import { TrueupError } from '../../staging/model/errors.js';
import type { EntityConfig } from '../../staging/model/tenant-config.js';
import { mappingOverrides } from './connector-config.js';

export interface FieldMapping {
  /** canonical field → source field */
  fields: Readonly<Record<string, string>>;
  /** canonical field → (source value → canonical value) */
  valueMaps?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/** What a tenant or a system config may override: canonical field ← source field ("" unmaps), value maps. */
export interface MappingOverrides {
  fields?: Readonly<Record<string, string>>;
  valueMaps?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/**
 * Defaults overridden in order (a later override wins) field by field; a value map replaces the
 * earlier one for that field; a field mapped to "" is unmapped (not extracted at all).
 */
export function mergeMapping(
  base: FieldMapping,
  ...overrides: (MappingOverrides | undefined)[]
): FieldMapping {
  const fields: Record<string, string> = { ...base.fields };
  const valueMaps: Record<string, Readonly<Record<string, string>>> = { ...base.valueMaps };
  for (const o of overrides) {
    Object.assign(fields, o?.fields);
    Object.assign(valueMaps, o?.valueMaps);
  }
  for (const [canonical, source] of Object.entries(fields)) if (source === '') delete fields[canonical];
  return { fields, valueMaps };
}

/** A mapping override that cannot work (unknown canonical field, a source name the vendor cannot have). */
export class MappingConfigError extends TrueupError {
  override name = 'MappingConfigError';
}

/** What source names a connector accepts (they end up in queries): a pattern and how to say it. */
export interface SourceNameRule {
  pattern: RegExp;
  /** e.g. 'a Salesforce field API name'. */
  expected: string;
}

/**
 * Throws MappingConfigError when `overrides` names a field `entity` does not have, or a source
 * that breaks `rule`. `where` prefixes the message (a config path or "Account → customer").
 */
export function checkOverrides(
  entity: Entity,
  overrides: MappingOverrides | undefined,
  where: string,
  rule?: SourceNameRule,
): void {
  const known = new Set(ENTITY_FIELDS[entity].map((d) => d.name));
  for (const canonical of [
    ...Object.keys(overrides?.fields ?? {}),
    ...Object.keys(overrides?.valueMaps ?? {}),
  ])
    if (!known.has(canonical))
      throw new MappingConfigError(`${where}: ${entity} has no canonical field "${canonical}"`);
  for (const [canonical, source] of Object.entries(overrides?.fields ?? {}))
    if (source !== '' && rule && !rule.pattern.test(source))
      throw new MappingConfigError(`${where}.${canonical}: "${source}" is not ${rule.expected}`);
}

/**
 * The mapping one object (SObject, HubSpot object type, SuiteQL stream) is extracted with: the
 * connector's defaults, then the tenant's entity overrides, then the system's overrides of this
 * object, each checked first (`where` names the object in messages, e.g. "Account → customer").
 */
export function effectiveMapping(
  entity: Entity,
  defaults: FieldMapping,
  tenant: TenantEntityMapping,
  system: MappingOverrides | undefined,
  where: string,
  rule: SourceNameRule,
): FieldMapping {
  checkOverrides(entity, tenant.overrides, where, rule);
  checkOverrides(entity, system, where, rule);
  return mergeMapping(defaults, tenant.overrides, system);
}

export type TenantEntities = Readonly<Partial<Record<Entity, EntityConfig>>>;

export interface TenantEntityMapping {
  overrides?: MappingOverrides;
  mappingVersion?: number;
}

/**
 * The tenant's overrides of one entity for one system — `entities.<entity>.mapping.<system>`
 * ({fields, valueMaps}) checked against the entity and the connector's source-name rule — and
 * the entity's mappingVersion (stamped on every staged row, so a mapping change can be re-applied).
 */
export function tenantEntityMapping(
  entities: TenantEntities | undefined,
  entity: Entity,
  system: string,
  rule?: SourceNameRule,
): TenantEntityMapping {
  const cfg = entities?.[entity];
  const raw = cfg?.mapping?.[system];
  const where = `entities.${entity}.mapping.${system}`;
  let overrides: MappingOverrides | undefined;
  if (raw !== undefined) {
    const parsed = mappingOverrides.safeParse(raw);
    if (!parsed.success)
      throw new MappingConfigError(
        `${where}: ${parsed.error.issues.map((i) => `${[...i.path].map(String).join('.') || '(mapping)'}: ${i.message}`).join('; ')}`,
      );
    overrides = parsed.data;
    checkOverrides(entity, overrides, where, rule);
  }
  return {
    ...(overrides ? { overrides } : {}),
    ...(cfg?.mappingVersion ? { mappingVersion: cfg.mappingVersion } : {}),
  };
}

export class MappingError extends TrueupError {
  override name = 'MappingError';
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
    const mapped = typeof v === 'string' ? mappedValue(mapping.valueMaps?.[canonical], v) : undefined;
    if (mapped !== undefined) v = mapped;
    out[canonical] = normalise(def.type, v);
  }
  return out;
}

/**
 * The value map's entry for a source value, only if the map itself has it: a source value such as
 * `constructor` or `__proto__` must not find Object.prototype's members (it would be staged as
 * "function Object() { [native code] }").
 */
export function mappedValue(
  map: Readonly<Record<string, string>> | undefined,
  v: string,
): string | undefined {
  return map && Object.hasOwn(map, v) ? map[v] : undefined;
}

/** A source record's own property (never one inherited from Object.prototype), for `mapRecord`'s `get`. */
export function ownValue(record: object | null | undefined, key: string): unknown {
  return record && Object.hasOwn(record, key) ? (record as Record<string, unknown>)[key] : undefined;
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

/** A CSV row as the record staged in `raw`: header → cell, an empty cell as null (CSV's null). */
export function csvRawRecord(
  header: readonly string[],
  cells: readonly string[],
): Record<string, string | null> {
  const raw: Record<string, string | null> = {};
  for (let i = 0; i < header.length; i++) raw[header[i]!] = cells[i] === '' ? null : cells[i]!;
  return raw;
}

/** A CSV row that did not map, for its dead letter: every cell, extra ones as extra_<i>. */
export function csvCellsByHeader(
  header: readonly string[],
  cells: readonly string[],
): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i < cells.length; i++) record[header[i] ?? `extra_${i}`] = cells[i]!;
  return record;
}

/** Parses a modification stamp (ISO 8601, or epoch milliseconds as text) into epoch ms. */
export function parseStampMs(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v !== 'string' || !v) return null;
  if (/^\d{12,}$/.test(v)) return Number(v);
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? null : ms;
}

/** How far past the server's time a modification stamp may be (clock skew) and still be a version. */
export const FUTURE_STAMP_TOLERANCE_MS = 5 * 60_000;
/** Modification stamps before 1970 or after 9999 are out of range (a version is µs since 1970). */
const LAST_STAMP_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * Why a record's modification stamp (epoch ms, null when unreadable) cannot be its version, or
 * null when it can. A stamp beyond `now` + FUTURE_STAMP_TOLERANCE_MS would win over every later
 * real change (the version guard) and, where the cursor is the stamp, move the checkpoint past
 * records not read yet: such a record is dead-lettered with this reason, and read again by a
 * later run once its stamp is no longer in the future. `what` names the field
 * ("hs_lastmodifieddate"); `raw` is the text received.
 */
export function stampProblem(ms: number | null, now: number, what: string, raw?: unknown): string | null {
  const shown = raw === undefined ? '' : ` ${JSON.stringify(raw)}`;
  if (ms === null || !Number.isFinite(ms)) return `${what}${shown} is missing or not a timestamp`;
  if (ms < 0 || ms > LAST_STAMP_MS) return `${what}${shown} is out of range (1970 to 9999)`;
  if (ms > now + FUTURE_STAMP_TOLERANCE_MS)
    return (
      `${what} ${new Date(ms).toISOString()} is in the future (server time ${new Date(now).toISOString()}, ` +
      `tolerance ${FUTURE_STAMP_TOLERANCE_MS / 60_000} min); not staged, read again once it is not`
    );
  return null;
}

/** Epoch milliseconds → version in microseconds (the staging version of a modification stamp). */
export function msToVersion(ms: number): bigint {
  return BigInt(ms) * 1000n;
}

/**
 * The effective mapping of each object (an object type, a record stream) of a system, keyed by
 * object: `build` gets the object and the tenant's overrides of its entity, checked first, so a
 * bad override fails the system before anything is read.
 */
export function objectMappings<K extends string, M>(
  sys: { system: string; options: { entities?: TenantEntities | undefined } },
  objects: { names: readonly K[]; entityOf: (object: K) => Entity; rule: SourceNameRule },
  build: (object: K, tenant: TenantEntityMapping) => M,
): Map<K, M> {
  const { names, entityOf, rule } = objects;
  return new Map(
    names.map((o) => [o, build(o, tenantEntityMapping(sys.options.entities, entityOf(o), sys.system, rule))]),
  );
}

/** A change of one source record: its tombstone, or an upsert of `fields` stamped with the mapping version. */
export function recordChange(
  r: { sourceId: string; version: bigint; raw: unknown; sourceUpdatedAt: string },
  fields: Record<string, unknown> | 'delete',
  mappingVersion?: number,
): Change {
  if (fields === 'delete') return { ...r, op: 'delete' };
  return { ...r, op: 'upsert', fields, ...(mappingVersion ? { mappingVersion } : {}) };
}

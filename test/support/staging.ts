// Staging read back for tests: staged rows, live counts, and "staging equals the source" as
// snapshots (entity → source id → version and field values) that compare with toEqual. Both
// sides spell a value one way: decimals without trailing zeros, dates as YYYY-MM-DD,
// timestamps as epoch ms, booleans as booleans, json as sorted-key text.
import type { Staging } from '../../staging/database.js';
import { quoteIdent } from '../../staging/identifiers.js';
import { ENTITY_FIELDS, type Entity, type FieldType } from '../../staging/model/entities.js';

/** One record: its version (µs, as text), `deleted: true` for a tombstone, else its field values. */
export interface RecordSnapshot {
  version: string;
  deleted?: true;
  [field: string]: unknown;
}
/** entity → source id → record. */
export type Snapshot = Record<string, Record<string, RecordSnapshot>>;

/** The snapshot of a live record (fields in `only`, when given, and no others; absent ones null). */
export function liveRecord(
  entity: Entity,
  version: bigint | string | number,
  fields: Record<string, unknown>,
  only: readonly string[] = Object.keys(fields),
): RecordSnapshot {
  const out: RecordSnapshot = { version: String(version) };
  for (const name of only) out[name] = canonicalValue(fieldType(entity, name), fields[name]);
  return out;
}

/** The snapshot of a tombstone. */
export function tombstone(version: bigint | string | number): RecordSnapshot {
  return { version: String(version), deleted: true };
}

/**
 * Staged records of `fields`' entities for a tenant (and system): live rows with those fields;
 * tombstones too when `tombstones` is set (else they are left out, as deleted at the source).
 */
export async function stagingSnapshot(
  staging: Staging,
  opts: {
    tenant: string;
    system?: string;
    fields: Partial<Record<Entity, readonly string[]>>;
    tombstones?: boolean;
  },
): Promise<Snapshot> {
  const out: Snapshot = {};
  for (const [entity, names] of Object.entries(opts.fields) as [Entity, readonly string[]][]) {
    const cols = names.map((n) => {
      const type = fieldType(entity, n);
      const col = quoteIdent(n);
      return type === 'timestamp'
        ? `(extract(epoch FROM ${col}) * 1000)::bigint::text AS ${col}`
        : `${col}::text AS ${col}`;
    });
    const res = await staging.pool.query(
      `SELECT source_id, version::text AS version, deleted_at IS NOT NULL AS deleted${cols.map((c) => `, ${c}`).join('')}
         FROM staging.${quoteIdent(entity)}
        WHERE tenant_id = $1 AND ($2::text IS NULL OR system = $2)${opts.tombstones ? '' : ' AND deleted_at IS NULL'}`,
      [opts.tenant, opts.system ?? null],
    );
    const records: Record<string, RecordSnapshot> = {};
    for (const r of res.rows)
      records[r.source_id] = r.deleted ? tombstone(r.version) : liveRecord(entity, r.version, r, names);
    out[entity] = records;
  }
  return out;
}

/** What differs between two snapshots, one line per record field: empty when they are equal. */
export function snapshotDifferences(want: Snapshot, got: Snapshot): string[] {
  const problems: string[] = [];
  for (const entity of new Set([...Object.keys(want), ...Object.keys(got)])) {
    const w = want[entity] ?? {};
    const g = got[entity] ?? {};
    for (const [id, rec] of Object.entries(w)) {
      const staged = g[id];
      if (!staged) {
        problems.push(`${entity} ${id}: missing from staging (source v${rec.version})`);
        continue;
      }
      for (const key of new Set([...Object.keys(rec), ...Object.keys(staged)]))
        if (JSON.stringify(rec[key]) !== JSON.stringify(staged[key]))
          problems.push(
            `${entity} ${id} ${key}: staged ${JSON.stringify(staged[key])}, source ${JSON.stringify(rec[key])}`,
          );
    }
    for (const id of Object.keys(g))
      if (!w[id]) problems.push(`${entity} ${id}: staged but not at the source`);
  }
  return problems;
}

/** Staged rows of one entity keyed by source id (all columns, `version` as text, `deleted`). */
export async function stagedRows(
  staging: Staging,
  opts: { tenant: string; entity: Entity; system?: string },
): Promise<Map<string, Record<string, unknown> & { version: string; deleted: boolean }>> {
  const res = await staging.pool.query(
    `SELECT *, version::text AS version, deleted_at IS NOT NULL AS deleted FROM staging.${quoteIdent(opts.entity)}
      WHERE tenant_id = $1 AND ($2::text IS NULL OR system = $2)`,
    [opts.tenant, opts.system ?? null],
  );
  return new Map(res.rows.map((r) => [r.source_id as string, r]));
}

/** How many rows of one entity are staged (live ones only, unless `tombstones`). */
export async function stagedCount(
  staging: Staging,
  opts: { tenant: string; entity: Entity; system?: string; tombstones?: boolean },
): Promise<number> {
  const res = await staging.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM staging.${quoteIdent(opts.entity)}
      WHERE tenant_id = $1 AND ($2::text IS NULL OR system = $2)${opts.tombstones ? '' : ' AND deleted_at IS NULL'}`,
    [opts.tenant, opts.system ?? null],
  );
  return Number(res.rows[0]!.n);
}

function fieldType(entity: Entity, name: string): FieldType {
  const def = ENTITY_FIELDS[entity].find((d) => d.name === name);
  if (!def) throw new Error(`${entity} has no canonical field ${name}`);
  return def.type;
}

/** One spelling of a value of `type`, whether it comes from a source mapping or a staged column. */
export function canonicalValue(type: FieldType, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (type) {
    case 'decimal':
      return canonicalDecimal(String(v));
    case 'date':
      return v instanceof Date ? v.toISOString().slice(0, 10) : String(v).slice(0, 10);
    case 'timestamp':
      return typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : new Date(v as string).getTime();
    case 'boolean':
      return v === true || v === 'true' || v === 't'
        ? true
        : v === false || v === 'false' || v === 'f'
          ? false
          : v;
    case 'json':
      return stableJson(typeof v === 'string' ? safeParse(v) : v);
    default:
      return String(v);
  }
}

/** "0100.50" → "100.5", "-0.0" → "0"; anything that is not a plain decimal stays as it is. */
function canonicalDecimal(s: string): string {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(s.trim());
  if (!m || (!m[2] && !m[3])) return s;
  const int = (m[2] ?? '').replace(/^0+(?=\d)/, '') || '0';
  const frac = (m[3] ?? '').replace(/0+$/, '');
  const body = frac ? `${int}.${frac}` : int;
  return m[1] === '-' && body !== '0' ? `-${body}` : body;
}

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b)))
      : x,
  );
}

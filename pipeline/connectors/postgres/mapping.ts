// Maps rows of one source table onto changes of one canonical entity. Rows are handled in their
// text form on both paths (snapshot and stream), so a value means the same either way. Plain
// columns are mapped here; SQL-expression fields, row filters and soft-delete conditions are
// evaluated by the source Postgres, in the snapshot query or on a batch of streamed rows sent
// back as text arrays and re-typed. See docs/capture.md, "Mapping".
import type pg from 'pg';
import { quoteIdent, quoteQualified } from '../../../staging/identifiers.js';
import type { Change } from '../../../staging/model/change.js';
import { naiveTimestampToUtc } from '../../../staging/model/date-text.js';
import { ENTITY_FIELDS, type Entity, type FieldType } from '../../../staging/model/entities.js';
import { TrueupError } from '../../../staging/model/errors.js';
import { CanonicalValueError } from '../../../staging/model/value-error.js';
import type { FieldSource, TableMapping } from './config.js';

/** A row as text: null is SQL NULL; undefined is an unchanged TOAST value (unknown). */
export type TextRow = Record<string, string | null | undefined>;

export interface RelationColumn {
  name: string;
  /** SQL type as format_type() prints it, e.g. `numeric(12,2)`. */
  type: string;
}

/** What a mapped row asks the writer to do. `delete_if_staged`: out of scope, delete only a staged row. */
export type MappedOp = 'upsert' | 'delete' | 'delete_if_staged' | 'skip';
export interface Mapped {
  op: MappedOp;
  change: Change;
}

interface FieldPlan {
  name: string;
  type: FieldType;
  source: FieldSource;
  alias: string;
  /** The column read, for a plain-column field. */
  column?: string;
  /** Source value → canonical value (own keys only: a value like "constructor" is just text). */
  valueMap?: Map<string, string>;
}

const NONE: readonly string[] = Object.freeze([]);
const NO_EVALS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

const ALIAS = '__trueup_';

export class TableMapper {
  readonly entity: Entity;
  readonly qualified: string;
  readonly label: string;
  private readonly fields: FieldPlan[];
  private readonly sqlFields: FieldPlan[];
  private readonly updatedAt: FieldPlan | undefined;

  /**
   * `mappingVersion`: the tenant's `entities.<entity>.mappingVersion`, stamped on every change (as
   * the API and CSV kinds do), so a mapping change is re-applied and `trueup remap` sees which rows
   * an older mapping made.
   */
  constructor(
    readonly mapping: TableMapping,
    private readonly mappingVersion?: number,
  ) {
    this.entity = mapping.entity;
    this.qualified = quoteQualified(mapping.schema, mapping.table);
    this.label = `${mapping.schema}.${mapping.table}`;
    const types = new Map(ENTITY_FIELDS[mapping.entity].map((f) => [f.name, f.type]));
    this.fields = Object.entries(mapping.fields).map(([name, source], i) => {
      const values = mapping.valueMaps[name];
      return {
        name,
        type: types.get(name) ?? 'text',
        source: source as FieldSource,
        alias: `${ALIAS}f${i}`,
        ...('column' in source ? { column: source.column } : {}),
        ...(values ? { valueMap: new Map(Object.entries(values)) } : {}),
      };
    });
    this.updatedAt = mapping.updatedAt
      ? {
          name: 'updated_at',
          type: 'timestamp',
          source: mapping.updatedAt as FieldSource,
          alias: `${ALIAS}upd`,
        }
      : undefined;
    this.sqlFields = [...this.fields, ...(this.updatedAt ? [this.updatedAt] : [])].filter(
      (f) => 'sql' in f.source,
    );
    // Quoting is checked here, once, so a bad name fails at startup rather than mid-stream.
    for (const k of mapping.key) quoteIdent(k);
    for (const c of this.columnRefs()) quoteIdent(c);
  }

  /** Columns referenced by name (keys and plain-column fields): a drop or retype of one stops the table. */
  columnRefs(): string[] {
    const cols = new Set(this.mapping.key);
    for (const f of [...this.fields, ...(this.updatedAt ? [this.updatedAt] : [])])
      if ('column' in f.source) cols.add(f.source.column);
    return [...cols];
  }

  /** True when streamed rows need the source to evaluate something (expressions, filter, soft delete). */
  get needsEval(): boolean {
    return this.sqlFields.length > 0 || !!this.mapping.filter || !!this.mapping.softDelete;
  }

  get hasFilter(): boolean {
    return !!this.mapping.filter;
  }

  private evalList(withFilter: boolean): string[] {
    const list = this.sqlFields.map(
      (f) => `(${(f.source as { sql: string }).sql})::text AS ${quoteIdent(f.alias)}`,
    );
    if (withFilter && this.mapping.filter)
      list.push(`coalesce((${this.mapping.filter}), false) AS ${ALIAS}in`);
    if (this.mapping.softDelete) list.push(`coalesce((${this.mapping.softDelete}), false) AS ${ALIAS}del`);
    return list;
  }

  /** The snapshot query of this table (or of one block range of it, for parallel readers). */
  snapshotSql(blocks?: { from: number; to: number }): string {
    const where: string[] = [];
    if (this.mapping.filter) where.push(`(${this.mapping.filter})`);
    if (blocks) where.push(`t.ctid >= '(${blocks.from},0)'::tid AND t.ctid < '(${blocks.to},0)'::tid`);
    return `SELECT t.*${this.evalList(false)
      .map((e) => `, ${e}`)
      .join('')} FROM ${this.qualified} AS t${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
  }

  /** A query that checks the mapping against a relation's columns without reading any row. */
  probeSql(columns: readonly RelationColumn[]): string {
    return `${this.evalSql(columns)} LIMIT 0`;
  }

  private evalSql(columns: readonly RelationColumn[]): string {
    const args = columns.map((_c, i) => `$${i + 1}::text[]`).join(', ');
    const names = columns.map((_c, i) => `c${i}`).join(', ');
    const typed = columns.map((c, i) => `u.c${i}::${c.type} AS ${quoteIdent(c.name)}`).join(', ');
    const list = this.evalList(true);
    return `SELECT ${list.length ? list.join(', ') : '1'} FROM (SELECT ${typed || '1 AS x'}, u.ord FROM unnest(${args || "'{}'::text[]"}) WITH ORDINALITY AS u(${names ? `${names}, ` : ''}ord)) AS t ORDER BY t.ord`;
  }

  /** Maps one snapshot row (t.* as text plus the evaluated aliases). */
  fromSnapshotRow(row: Record<string, string | boolean | null>, version: bigint): Change {
    const raw: Record<string, string | null> = {};
    const evals: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row)) {
      if (k.startsWith(ALIAS)) evals[k] = v;
      else raw[k] = v as string | null;
    }
    return this.build(raw, raw, evals, version, true).change;
  }

  /** Maps streamed rows; the source evaluates expressions/filters in one query for the batch. */
  async mapStreamed(
    source: pg.ClientBase | pg.Pool,
    columns: readonly RelationColumn[],
    rows: readonly { values: TextRow; version: bigint }[],
  ): Promise<Mapped[]> {
    if (!rows.length) return [];
    rows = await this.readUnchangedToast(source, columns, rows);
    let evals: Record<string, unknown>[] | undefined;
    if (this.needsEval) {
      const params = columns.map((c) => textArrayLiteral(rows, c.name));
      const res = await source.query(this.evalSql(columns), params);
      evals = res.rows as Record<string, unknown>[];
    }
    const out: Mapped[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const { values, version } = rows[i]!;
      let missing: string[] | undefined;
      for (const k in values) {
        if (values[k] !== undefined) continue;
        missing ??= [];
        missing.push(k);
      }
      // Unchanged TOAST values are unknown: left out of raw, and the fields reading them keep the staged value.
      const raw = missing ? definedOnly(values) : (values as Record<string, string | null>);
      const keep = missing ? this.fieldsReading(missing) : NONE;
      out[i] = this.build(values, raw, evals?.[i] ?? NO_EVALS, version, false, keep);
    }
    return out;
  }

  /**
   * Unchanged TOAST values (undefined in a streamed row) read from the source by key, in one query
   * for the rows that lack some. Keeping the staged value is not enough: an update that changes
   * the key, or brings the row into the filter's scope, has no staged row under that key, and a
   * filter, soft-delete test or expression over such a column would see NULL. The source's
   * current value is at least as new as the change; a later change of that column comes later in
   * the stream with its own value and a newer version. A row no longer at the source stays as it
   * came: its fields over those columns keep the staged value (keepFields).
   */
  private async readUnchangedToast(
    source: pg.ClientBase | pg.Pool,
    columns: readonly RelationColumn[],
    rows: readonly { values: TextRow; version: bigint }[],
  ): Promise<readonly { values: TextRow; version: bigint }[]> {
    const key = this.mapping.key;
    const lacking: number[] = [];
    const wanted = new Set<string>();
    for (let i = 0; i < rows.length; i++) {
      const v = rows[i]!.values;
      let gap = false;
      for (const k in v)
        if (v[k] === undefined) {
          gap = true;
          wanted.add(k);
        }
      if (gap && key.every((k) => typeof v[k] === 'string')) lacking.push(i);
    }
    if (!lacking.length) return rows;
    const typeOf = new Map(columns.map((c) => [c.name, c.type]));
    const cols = [...wanted].filter((c) => typeOf.has(c));
    if (!cols.length) return rows;
    const params = [
      ...key.map((k) => lacking.map((i) => rows[i]!.values[k] as string)),
      lacking.map((_i, n) => n),
    ];
    const res = await source.query<Record<string, string | null> & { ord: number }>(
      `SELECT k.ord, ${cols.map((c) => `s.${quoteIdent(c)}::text AS ${quoteIdent(c)}`).join(', ')}
         FROM unnest(${key.map((_k, i) => `$${i + 1}::text[]`).join(', ')}, $${key.length + 1}::int[])
              AS k(${key.map((_k, i) => `k${i}`).join(', ')}, ord)
         JOIN ${this.qualified} AS s
           ON ${key.map((k, i) => `s.${quoteIdent(k)} = k.k${i}::${typeOf.get(k) ?? 'text'}`).join(' AND ')}`,
      params,
    );
    const out = [...rows];
    for (const r of res.rows) {
      const i = lacking[r.ord]!;
      const values = { ...rows[i]!.values };
      for (const c of cols) if (values[c] === undefined) values[c] = r[c] ?? null;
      out[i] = { ...rows[i]!, values };
    }
    return out;
  }

  /** Fields whose value cannot be known because a column they read is an unchanged TOAST value. */
  private fieldsReading(missing: readonly string[]): string[] {
    return this.fields
      .filter((f) =>
        f.column !== undefined
          ? missing.includes(f.column)
          : // Conservative: an expression mentioning the column's name may read it.
            missing.some((m) => (f.source as { sql: string }).sql.includes(m)),
      )
      .map((f) => f.name);
  }

  private build(
    values: TextRow,
    raw: Record<string, string | null>,
    evals: Record<string, unknown>,
    version: bigint,
    fromSnapshot: boolean,
    keep: readonly string[] = NONE,
  ): Mapped {
    const sourceId = this.sourceIdOf(values);
    const inScope = fromSnapshot || !this.mapping.filter || isTrue(evals[`${ALIAS}in`]);
    if (!inScope) return { op: 'delete_if_staged', change: { sourceId, version, op: 'delete', raw } };
    const fields: Record<string, unknown> = {};
    for (const f of this.fields) {
      if (keep.length && keep.includes(f.name)) continue;
      const text = f.column !== undefined ? values[f.column] : (evals[f.alias] as string | null | undefined);
      fields[f.name] = text == null ? null : this.toCanonical(f, text);
    }
    let sourceUpdatedAt: string | null = null;
    if (this.updatedAt) {
      const t =
        'column' in this.updatedAt.source
          ? values[this.updatedAt.source.column]
          : (evals[this.updatedAt.alias] as string | null | undefined);
      sourceUpdatedAt = t ? sourceTimestamp(t, this.mapping.timezone ?? 'UTC') : null;
    }
    // A soft-deleted row is a tombstone that keeps its mapped values: one first seen deleted (a
    // snapshot of an invoice cancelled before trueup started) keeps its links and amounts, so
    // reconcile finds it deleted_in_one rather than missing.
    if (this.mapping.softDelete && isTrue(evals[`${ALIAS}del`]))
      return {
        op: 'delete',
        change: { sourceId, version, op: 'delete', fields, raw, sourceUpdatedAt, ...this.stamp() },
      };
    const change: Change = { sourceId, version, op: 'upsert', fields, raw, sourceUpdatedAt, ...this.stamp() };
    if (keep.length) change.keepFields = keep;
    return { op: 'upsert', change };
  }

  private stamp(): { mappingVersion?: number } {
    return this.mappingVersion ? { mappingVersion: this.mappingVersion } : {};
  }

  /** The staged source id of a row; throws NullKeyError when a key column is NULL or missing. */
  sourceIdOf(values: TextRow): string {
    const id = this.sourceIdOrNull(values);
    if (id === null) throw new NullKeyError(this);
    return id;
  }

  /**
   * The source id, or null when a key column is NULL (possible with a nullable key under
   * REPLICA IDENTITY FULL) or missing: such a row has no identity to stage under.
   */
  sourceIdOrNull(values: TextRow): string | null {
    const parts = this.mapping.key.map((k) => values[k]);
    if (parts.some((p) => p === null || p === undefined)) return null;
    return parts.length === 1 ? (parts[0] as string) : JSON.stringify(parts);
  }

  private toCanonical(f: FieldPlan, text: string): unknown {
    return coerce(f.valueMap?.get(text) ?? text, f.type);
  }
}

/** A row whose key column is NULL or missing: it cannot be staged (callers dead-letter it). */
export class NullKeyError extends TrueupError {
  override name = 'NullKeyError';
  constructor(mapper: TableMapper) {
    super(`${mapper.label}: a key column (${mapper.mapping.key.join(', ')}) is null or missing`);
  }
}

/** Text (Postgres output form) → canonical value. Values that do not fit are left for validation to reject. */
export function coerce(text: string, type: FieldType): unknown {
  switch (type) {
    case 'boolean': {
      const t = text.toLowerCase();
      if (t === 't' || t === 'true' || t === '1' || t === 'yes') return true;
      if (t === 'f' || t === 'false' || t === '0' || t === 'no') return false;
      return text;
    }
    case 'json':
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    case 'date':
      // A timestamp mapped to a date field keeps its date part (as the source prints it).
      return /^\d{4}-\d{2}-\d{2}[ T]/.test(text) ? text.slice(0, 10) : text;
    case 'decimal':
      return text.trim();
    default:
      return text;
  }
}

/**
 * A source timestamp as Postgres prints it → canonical UTC text: a `timestamptz` keeps its
 * offset, a naive `timestamp` is read in the table's zone. A text that is no timestamp
 * (`infinity`) is passed on as it is, for the write path to dead-letter with the row.
 */
export function sourceTimestamp(text: string, timeZone: string): string {
  try {
    return naiveTimestampToUtc(text, timeZone);
  } catch (err) {
    if (err instanceof CanonicalValueError) return toIsoTimestamp(text);
    throw err;
  }
}

/** Postgres timestamp text → ISO 8601 ("2024-01-02 03:04:05.123456+00" → "2024-01-02T03:04:05.123456+00:00"). */
export function toIsoTimestamp(text: string): string {
  let s = text.replace(' ', 'T');
  s = s.replace(/([+-]\d{2})$/, '$1:00');
  if (!/[zZ]|[+-]\d{2}:\d{2}$/.test(s) && /T/.test(s)) s += 'Z';
  return s;
}

/** One column of a batch as a text[] literal (what node-postgres would send for a JS array, built in one pass). */
function textArrayLiteral(rows: readonly { values: TextRow }[], column: string): string {
  let out = '{';
  for (let i = 0; i < rows.length; i++) {
    const v = rows[i]!.values[column];
    if (i) out += ',';
    if (v === null || v === undefined) out += 'NULL';
    else out += `"${v.includes('"') || v.includes('\\') ? v.replace(/[\\"]/g, '\\$&') : v}"`;
  }
  return `${out}}`;
}

function definedOnly(values: TextRow): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const k in values) {
    const v = values[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Booleans arrive as text ('t') from text-only connections. */
function isTrue(v: unknown): boolean {
  return v === true || v === 't' || v === 'true';
}

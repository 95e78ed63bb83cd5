// The SQL of the Postgres writer (writer.ts) for one mapped table: rows read by key through the
// same mapping capture uses (so a value means what it means in staging), rows locked, and canonical
// fields written back to their plain columns as UPDATE or INSERT. Identifiers come from the config
// and are quoted; values are always $n parameters, cast to the column's type by Postgres.
import type pg from 'pg';
import { quoteIdent } from '../../../staging/identifiers.js';
import type { CurrentRecord } from '../contract.js';
import type { TableMapper } from './mapping.js';

/** One mapped table as the writer sees it: its mapping and its columns' SQL types. */
export interface WriteTable {
  mapper: TableMapper;
  types: ReadonlyMap<string, string>;
}

/** The key column values of a staged source id (one key: the id; several: a JSON array of them). */
export function keyValues(t: WriteTable, sourceId: string): string[] {
  if (t.mapper.mapping.key.length === 1) return [sourceId];
  const parts = JSON.parse(sourceId) as unknown;
  if (!Array.isArray(parts) || parts.length !== t.mapper.mapping.key.length)
    throw new Error(
      `${t.mapper.label}: source id ${sourceId} does not hold ${t.mapper.mapping.key.length} keys`,
    );
  return parts.map(String);
}

function typeOf(t: WriteTable, column: string): string {
  const type = t.types.get(column);
  if (!type) throw new Error(`${t.mapper.label} has no column ${JSON.stringify(column)}`);
  return type;
}

/** `(s."a", s."b") IN (SELECT * FROM unnest($1::ta[], $2::tb[]))` over `columns`, parameters from `first`. */
function tupleIn(t: WriteTable, alias: string, columns: readonly string[], first: number): string {
  const cols = columns.map((c) => `${alias}.${quoteIdent(c)}`).join(', ');
  const arrays = columns.map((c, i) => `$${first + i}::${typeOf(t, c)}[]`).join(', ');
  return `(${cols}) IN (SELECT * FROM unnest(${arrays}))`;
}

/** Locks the rows with these source ids (FOR UPDATE) inside the caller's transaction. */
export async function lockRows(c: pg.ClientBase, t: WriteTable, ids: readonly string[]): Promise<void> {
  if (!ids.length) return;
  const key = t.mapper.mapping.key;
  const values = ids.map((id) => keyValues(t, id));
  await c.query(
    `SELECT 1 FROM ${t.mapper.qualified} AS t WHERE ${tupleIn(t, 't', key, 1)} FOR UPDATE`,
    key.map((_k, i) => values.map((v) => v[i]!)),
  );
}

/**
 * Rows whose `columns` hold `values` (one array per column), mapped as the snapshot maps them
 * (expressions, filter and soft delete evaluated by the source): a row out of the filter's scope or
 * soft-deleted is not found. Keyed by source id.
 */
export async function readMapped(
  c: pg.ClientBase,
  t: WriteTable,
  columns: readonly string[],
  values: readonly (readonly string[])[],
): Promise<{ id: string; record: Omit<CurrentRecord, 'key'>; row: Record<string, unknown> }[]> {
  if (!values[0]?.length) return [];
  const res = await c.query(
    `SELECT * FROM (${t.mapper.snapshotSql()}) AS s WHERE ${tupleIn(t, 's', columns, 1)}`,
    values as string[][],
  );
  const out: { id: string; record: Omit<CurrentRecord, 'key'>; row: Record<string, unknown> }[] = [];
  for (const row of res.rows as Record<string, string | boolean | null>[]) {
    const change = t.mapper.fromSnapshotRow(row, 0n);
    if (change.op !== 'upsert') continue;
    out.push({
      id: change.sourceId,
      row,
      record: {
        found: true,
        id: change.sourceId,
        fields: change.fields ?? {},
        version: null,
        sourceUpdatedAt: change.sourceUpdatedAt ?? null,
      },
    });
  }
  return out;
}

/** A canonical value as the source column's text: the value map's source value, else its text form. */
export function sourceText(t: WriteTable, field: string, v: unknown): string | null {
  if (v === null || v === undefined) return null;
  const map = t.mapper.mapping.valueMaps[field];
  if (map) {
    const back = Object.entries(map).find(([, canonical]) => canonical === String(v))?.[0];
    if (back !== undefined) return back;
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** The plain column a writable field maps to (callers check writability first). */
function columnOf(t: WriteTable, field: string): string {
  const source = t.mapper.mapping.fields[field];
  if (!source || !('column' in source)) throw new Error(`${t.mapper.label}: ${field} is not a plain column`);
  return source.column;
}

/** The updatedAt column set to now() on every write, when the mapping names a plain date/time column. */
function touchedColumn(t: WriteTable): string | null {
  const upd = t.mapper.mapping.updatedAt;
  if (!upd || !('column' in upd)) return null;
  return /timestamp|date/.test(t.types.get(upd.column) ?? '') ? upd.column : null;
}

/** UPDATE of one row by its key: the fields' columns set, updatedAt touched; returns the rows changed. */
export async function updateRow(
  c: pg.ClientBase,
  t: WriteTable,
  sourceId: string,
  fields: Readonly<Record<string, unknown>>,
): Promise<number> {
  const params: (string | null)[] = [];
  const sets = Object.entries(fields).map(([f, v]) => {
    const col = columnOf(t, f);
    params.push(sourceText(t, f, v));
    return `${quoteIdent(col)} = $${params.length}::${typeOf(t, col)}`;
  });
  const touched = touchedColumn(t);
  if (touched && !sets.some((s) => s.startsWith(`${quoteIdent(touched)} =`)))
    sets.push(`${quoteIdent(touched)} = now()`);
  if (!sets.length) return 1;
  const key = t.mapper.mapping.key;
  const where = key.map((k, i) => {
    params.push(keyValues(t, sourceId)[i]!);
    return `t.${quoteIdent(k)} = $${params.length}::${typeOf(t, k)}`;
  });
  const res = await c.query(
    `UPDATE ${t.mapper.qualified} AS t SET ${sets.join(', ')} WHERE ${where.join(' AND ')}`,
    params,
  );
  return res.rowCount ?? 0;
}

/** INSERT of a new row with the fields' columns (keys from their defaults); returns its source id. */
export async function insertRow(
  c: pg.ClientBase,
  t: WriteTable,
  fields: Readonly<Record<string, unknown>>,
): Promise<string> {
  const cols: string[] = [];
  const vals: string[] = [];
  const params: (string | null)[] = [];
  for (const [f, v] of Object.entries(fields)) {
    const col = columnOf(t, f);
    params.push(sourceText(t, f, v));
    cols.push(quoteIdent(col));
    vals.push(`$${params.length}::${typeOf(t, col)}`);
  }
  const touched = touchedColumn(t);
  if (touched && !cols.includes(quoteIdent(touched))) {
    cols.push(quoteIdent(touched));
    vals.push('now()');
  }
  const key = t.mapper.mapping.key;
  const res = await c.query(
    `INSERT INTO ${t.mapper.qualified} AS t ${cols.length ? `(${cols.join(', ')}) VALUES (${vals.join(', ')})` : 'DEFAULT VALUES'}
     RETURNING ${key.map((k) => `t.${quoteIdent(k)}::text AS ${quoteIdent(k)}`).join(', ')}`,
    params,
  );
  const row = res.rows[0] as Record<string, string | null>;
  return t.mapper.sourceIdOf(row);
}

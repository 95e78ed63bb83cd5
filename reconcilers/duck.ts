// Thin helpers over @duckdb/node-api: a connection on a mirror's instance (job-resources.ts keeps
// the instances), statements with named parameters, rows as plain JSON-ish objects, and the .sql
// files of sql/duckdb. Every connection gets trueup's NFKC function (nfkc.ts) and
// case-folding function (text-sql.ts).
import { readFileSync } from 'node:fs';
import { type DuckDBConnection, type DuckDBInstance, listValue } from '@duckdb/node-api';
import { sqlPath } from '../staging/package-root.js';
import type { SqlValue } from './comparators.js';
import { registerNfkc } from './nfkc.js';
import { registerCaseFold } from './text-sql.js';

/** Named parameters of a statement; a string array becomes a DuckDB LIST (file lists). */
export type DuckParams = Record<string, SqlValue | readonly string[]>;

export interface Duck {
  instance: DuckDBInstance;
  conn: DuckDBConnection;
  run(sql: string, params?: DuckParams): Promise<void>;
  rows<T = Record<string, unknown>>(sql: string, params?: DuckParams): Promise<T[]>;
  close(): void;
}

function bind(params: DuckParams | undefined): never {
  if (!params) return undefined as never;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) out[k] = Array.isArray(v) ? listValue([...v]) : v;
  return out as never;
}

/**
 * Row objects from row arrays. The reader's own getRowObjectsJS costs ~1 µs per value (2 s for
 * 20k rows of 50 columns); converting rows to arrays and naming the values here costs a tenth.
 */
function rowObjects(names: readonly string[], rows: readonly unknown[][]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const o: Record<string, unknown> = {};
    for (let k = 0; k < names.length; k++) o[names[k]!] = row[k];
    out[i] = o;
  }
  return out;
}

/** A connection on `instance` (with trueup's NFKC and case-folding functions); `close()` closes the connection only. */
export async function connectDuck(instance: DuckDBInstance): Promise<Duck> {
  const conn = await instance.connect();
  registerNfkc(conn);
  registerCaseFold(conn);
  return {
    instance,
    conn,
    async run(sql, params) {
      const t = performance.now();
      await conn.run(sql, bind(params));
      trace(t, sql);
    },
    async rows<T>(sql: string, params?: DuckParams) {
      const t = performance.now();
      const reader = await conn.runAndReadAll(sql, bind(params));
      const out = rowObjects(reader.columnNames(), reader.getRowsJS()) as T[];
      trace(t, sql);
      return out;
    },
    close() {
      conn.closeSync();
    },
  };
}

/** TRUEUP_DUCK_TRACE=<ms>: statements that took at least that long go to stderr (for profiling). */
const TRACE_MS = process.env.TRUEUP_DUCK_TRACE ? Number(process.env.TRUEUP_DUCK_TRACE) : undefined;
function trace(t: number, sql: string) {
  if (TRACE_MS === undefined) return;
  const ms = performance.now() - t;
  if (ms >= TRACE_MS)
    process.stderr.write(`duck ${ms.toFixed(1)} ms ${sql.replace(/\s+/g, ' ').slice(0, 220)}\n`);
}

const cache = new Map<string, string>();

/**
 * A query from sql/duckdb/<name>.sql with `{{name}}` slots filled. Slots only ever receive SQL
 * built from canonical field names and trueup's own table names — values are parameters.
 */
export function duckSql(name: string, slots: Record<string, string> = {}): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(sqlPath('duckdb', `${name}.sql`), 'utf8');
    cache.set(name, text);
  }
  return text.replace(/\{\{(\w+)\}\}/g, (_m, k: string) => {
    const v = slots[k];
    if (v === undefined) throw new Error(`sql/duckdb/${name}.sql: no value for slot {{${k}}}`);
    return v;
  });
}

/** Splits a .sql file into statements (no semicolons inside our literals). */
export function statements(sql: string): string[] {
  return sql
    .split(/;\s*\n/)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter(Boolean);
}

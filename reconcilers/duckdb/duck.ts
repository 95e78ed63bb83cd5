// A thin layer over @duckdb/node-api: a connection on a mirror's instance (pool/job-resources.ts
// keeps the instances), statements with named parameters, rows as plain objects. Every connection
// gets trueup's NFKC (nfkc.ts) and case-folding (text-sql.ts) functions.
import { type DuckDBConnection, type DuckDBInstance, listValue } from '@duckdb/node-api';
import { registerNfkc } from './nfkc.js';
import type { SqlValue } from './sql-params.js';
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

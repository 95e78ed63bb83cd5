// Thin helpers over @duckdb/node-api: open a database file, run statements with named
// parameters, read rows as plain JSON-ish objects, and load the .sql files of sql/duckdb.
import { readFileSync } from 'node:fs';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { sqlPath } from '../staging/package-root.js';
import type { SqlValue } from './comparators.js';

export interface Duck {
  instance: DuckDBInstance;
  conn: DuckDBConnection;
  run(sql: string, params?: Record<string, SqlValue>): Promise<void>;
  rows<T = Record<string, unknown>>(sql: string, params?: Record<string, SqlValue>): Promise<T[]>;
  close(): void;
}

export async function openDuck(path: string, threads?: number): Promise<Duck> {
  const instance = await DuckDBInstance.create(path, threads ? { threads: String(threads) } : {});
  const conn = await instance.connect();
  return {
    instance,
    conn,
    async run(sql, params) {
      await conn.run(sql, params as never);
    },
    async rows<T>(sql: string, params?: Record<string, SqlValue>) {
      const reader = await conn.runAndReadAll(sql, params as never);
      return reader.getRowObjectsJS() as T[];
    },
    close() {
      conn.closeSync();
      instance.closeSync();
    },
  };
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

// The DuckDB queries kept as files in sql/duckdb/: read once, `{{slot}}`s filled, split into
// statements. Slots only ever receive SQL built from canonical field names and trueup's own table
// names; values are parameters.
import { readFileSync } from 'node:fs';
import { sqlPath } from '../../staging/package-root.js';

const cache = new Map<string, string>();

/** The query of sql/duckdb/<name>.sql with its `{{name}}` slots filled. */
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

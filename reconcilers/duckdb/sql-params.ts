// Building DuckDB SQL from trueup's own names: named parameters for every config value (null
// equivalents, value maps, tolerances, zones) and quoted identifiers for canonical field names.

export type SqlValue = string | number | boolean | null;

/** Collects named parameters for one DuckDB statement. */
export class SqlParams {
  readonly values: Record<string, SqlValue> = {};
  private n = 0;
  add(value: SqlValue): string {
    const name = `p${this.n++}`;
    this.values[name] = value;
    return `$${name}`;
  }
}

/** A DuckDB identifier: canonical field names are plain, but quote them anyway. */
export function duckIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

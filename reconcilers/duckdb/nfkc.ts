// Unicode NFKC for DuckDB, which only has NFC (`nfc_normalize`): a JavaScript scalar function
// (String.prototype.normalize) registered on each job's connection. `nfkcSql` lets DuckDB skip
// pure-ASCII values (byte length = character length, already NFKC), so JavaScript only sees the
// rare non-ASCII values: of business keys when a mirror loads them, of the few differing pairs.
import { type DuckDBConnection, DuckDBScalarFunction, VARCHAR } from '@duckdb/node-api';

export const NFKC_FUNCTION = 'trueup_nfkc';

export function registerNfkc(conn: DuckDBConnection): void {
  conn.registerScalarFunction(
    DuckDBScalarFunction.create({
      name: NFKC_FUNCTION,
      mainFunction: (_info, input, output) => {
        const values = input.getColumnVector(0);
        for (let i = 0; i < input.rowCount; i++) {
          const v = values.getItem(i);
          output.setItem(i, typeof v === 'string' ? v.normalize('NFKC') : null);
        }
        output.flush();
      },
      returnType: VARCHAR,
      parameterTypes: [VARCHAR],
    }),
  );
}

/** SQL: the NFKC form of the VARCHAR expression `x` (NULL stays NULL). */
export function nfkcSql(x: string): string {
  return `CASE WHEN strlen(${x}) = length(${x}) THEN ${x} ELSE ${NFKC_FUNCTION}(${x}) END`;
}

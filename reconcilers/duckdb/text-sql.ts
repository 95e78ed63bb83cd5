// SQL steps of text normalisation shared by the text comparator and the business-key normalisers:
// trimming and collapsing whitespace of every kind (DuckDB's trim() removes spaces only and RE2's
// \s is ASCII; the class below adds \v and \p{Z}), and case folding. DuckDB has lower() but no
// case folding, so a JavaScript scalar function registered on each job's connection folds the
// non-ASCII values: lower → upper → lower applies Unicode's full upper-case mappings (ß → ss,
// ligatures ﬁ → fi, final sigma ς → σ, µ → μ, ſ → s); it folds a little more than Unicode case
// folding (dotless ı = i), never less for these cases.
import { type DuckDBConnection, DuckDBScalarFunction, VARCHAR } from '@duckdb/node-api';

export const CASEFOLD_FUNCTION = 'trueup_casefold';

/** RE2 character class of whitespace: ASCII whitespace, vertical tab and Unicode spaces. */
const WS = '[\\s\\v\\p{Z}]';

/** Case folding of one string (see the module comment). */
export const caseFold = (s: string): string => s.toLowerCase().toUpperCase().toLowerCase();

export function registerCaseFold(conn: DuckDBConnection): void {
  conn.registerScalarFunction(
    DuckDBScalarFunction.create({
      name: CASEFOLD_FUNCTION,
      mainFunction: (_info, input, output) => {
        const values = input.getColumnVector(0);
        for (let i = 0; i < input.rowCount; i++) {
          const v = values.getItem(i);
          output.setItem(i, typeof v === 'string' ? caseFold(v) : null);
        }
        output.flush();
      },
      returnType: VARCHAR,
      parameterTypes: [VARCHAR],
    }),
  );
}

/** SQL: `x` without leading and trailing whitespace of any kind. */
export const trimSql = (x: string) => `regexp_replace(${x}, '^${WS}+|${WS}+$', '', 'g')`;

/** SQL: every run of whitespace of any kind in `x` as one space. */
export const collapseSql = (x: string) => `regexp_replace(${x}, '${WS}+', ' ', 'g')`;

/** SQL: `x` case-folded (lower() for ASCII values, trueup_casefold otherwise). */
export const foldSql = (x: string) =>
  `CASE WHEN strlen(${x}) = length(${x}) THEN lower(${x}) ELSE ${CASEFOLD_FUNCTION}(${x}) END`;

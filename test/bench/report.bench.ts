// Benchmark `report`: a tenant whose reconcile run leaves ~100,000 live discrepancies (customers
// and invoices; TRUEUP_BENCH_SCALE scales it) → every report file (HTML, XLSX, CSV, Parquet), against
// the warm full reconcile run of the same data that produced them (measured in the same process).
// Also each part alone (reading the control tables, each writer), peak RSS, the files' sizes and,
// when Debian's chromium is there, how the 100,000-row HTML behaves in a browser: time until the
// table shows, rows in the DOM (a page, not all of them), time for a search to narrow it.
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { validateConfig } from '../../pipeline/config/load-config.js';
import { type GenerateOptions, generatorTenantConfig } from '../../pipeline/generator/ground-truth.js';
import { stageGeneratedTenant } from '../../pipeline/generator/stage-generated.js';
import { createReconcilePool } from '../../reconcilers/pool/reconcile-pool.js';
import { reconcileTenant } from '../../reconcilers/run/reconcile-tenant.js';
import { ACTION_COLUMNS, DISCREPANCY_COLUMNS } from '../../reports/columns.js';
import { linkActions } from '../../reports/load-actions.js';
import { loadDiscrepancies } from '../../reports/load-discrepancies.js';
import { loadReportData } from '../../reports/load-report.js';
import { summarise } from '../../reports/report-summary.js';
import { writeCsv } from '../../reports/write-csv.js';
import { writeHtml } from '../../reports/write-html.js';
import { writeParquet } from '../../reports/write-parquet.js';
import { runDir, writeRunReports } from '../../reports/write-run-reports.js';
import { writeXlsx } from '../../reports/write-xlsx.js';
import { ensureChromium, inPage, launchBrowser } from '../reports/chromium.js';
import { type BenchDefinition, check, peakRss, timed } from './harness.js';

const RATES = {
  missing_in_erp: 0.08,
  missing_in_crm: 0.08,
  field_mismatch: 0.5,
  duplicate_match: 0.01,
  deleted_in_one: 0.03,
  edge_cases: 0,
  business_key_only: 0,
  xref_only: 0,
  both_deleted: 0,
  lone_deleted: 0,
};

/** How a 100,000-row report behaves in a browser (null without chromium). */
async function browserCheck(file: string, rows: number) {
  const found = ensureChromium();
  if ('skip' in found) return null;
  const browser = await launchBrowser(found.path);
  try {
    const page = await browser.context.newPage();
    const open = await timed(async () => {
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load', timeout: 600_000 });
      await page.waitForSelector('#disc-table tbody tr.row', { timeout: 600_000 });
    });
    const domRows = await page.$$eval('#disc-table tbody tr', (trs) => trs.length);
    const info = await page.textContent('#disc-info');
    check(info?.includes(`of ${rows}`) ?? false, `the HTML table says "${info}", not ${rows} rows`);
    const search = await timed(async () => {
      await page.fill('#disc-search', 'missing_in_crm');
      await page.waitForFunction(inPage.filtered, true, { timeout: 600_000 });
    });
    return { open_ms: Math.round(open.ms), dom_rows: domRows, search_ms: Math.round(search.ms) };
  } finally {
    await browser.close();
  }
}

export const reportBench: BenchDefinition = {
  name: 'report',
  description:
    '~100k discrepancies → report.html, report.xlsx, CSV, Parquet vs the warm full reconcile that produced them',
  async run(ctx) {
    const n = Math.max(500, Math.round(60_000 * ctx.scale));
    const { url, staging } = await ctx.freshDatabase('report');
    const tenant = 'bench';
    const gen: GenerateOptions = {
      tenant,
      seed: 3,
      counts: { customer: n, invoice: n },
      rates: RATES,
      currencies: ['USD', 'EUR', 'JPY', 'BHD'],
    };
    await stageGeneratedTenant(staging.pool, gen, { entities: ['customer', 'invoice'], chunkSize: 20_000 });
    await staging.pool.query('ANALYZE staging.customer; ANALYZE staging.invoice');
    const cfg = validateConfig({ tenants: { [tenant]: generatorTenantConfig(gen) } }, 'bench', {}).tenants[
      tenant
    ]!;
    const dataDir = join(ctx.workDir, 'data');
    await mkdir(dataDir, { recursive: true });
    const pool = createReconcilePool({ threads: 2 });
    const reconcile = () =>
      reconcileTenant({
        tenant,
        tenantConfig: cfg,
        staging,
        stagingUrl: url,
        dataDir,
        pool,
        entities: ['customer', 'invoice'],
        mode: 'full',
        confirm: { waitMs: 0 },
        duckdbThreads: 1,
      });
    try {
      await reconcile(); // cold: builds the mirrors
      const warm = await timed(reconcile);
      const summary = warm.result;
      check(summary.status === 'succeeded', `the reconcile run failed: ${JSON.stringify(summary.errors)}`);
      const systems = { crm: 'crm', erp: 'erp' };
      const dir = runDir(dataDir, tenant, summary.runId);
      const all = await peakRss(() =>
        timed(() => writeRunReports(staging.pool, { tenant, runId: summary.runId, systems, dir })),
      );
      const res = all.result.result;
      check(
        res.summary.discrepancies === summary.totals.discrepancies,
        `the report holds ${res.summary.discrepancies} discrepancies, the run saw ${summary.totals.discrepancies}`,
      );
      // Each part alone, one after the other, into a scratch folder.
      const parts = join(ctx.workDir, 'parts');
      await mkdir(parts, { recursive: true });
      const entities = ['customer', 'invoice'] as const;
      const found = await timed(() =>
        loadDiscrepancies(staging.pool, { tenant, systems, runId: summary.runId, entities, period: null }),
      );
      const linked = await timed(() =>
        linkActions(staging.pool, { tenant, systems, entities }, found.result),
      );
      const load = await timed(() => loadReportData(staging.pool, { tenant, runId: summary.runId, systems }));
      const data = load.result;
      const s = summarise(data);
      const csv = await timed(() =>
        writeCsv(join(parts, 'd.csv'), DISCREPANCY_COLUMNS, data.discrepancies, tenant),
      );
      const actionsCsv = await timed(() =>
        writeCsv(join(parts, 'a.csv'), ACTION_COLUMNS, data.actions, tenant),
      );
      const xlsx = await timed(() => writeXlsx(join(parts, 'r.xlsx'), data, s));
      const parquet = await timed(() =>
        writeParquet(join(parts, 'd.parquet'), data.discrepancies, { tenant, runId: summary.runId }),
      );
      const html = await timed(() => writeHtml(join(parts, 'r.html'), data, s, []));
      const sizes: Record<string, number> = {};
      for (const f of res.files)
        sizes[f.slice(f.lastIndexOf('/') + 1)] = Math.round((await stat(f)).size / 1024);
      // A browser that cannot open the page is reported, not a reason to lose the measurement.
      const browser = await browserCheck(join(dir, 'report.html'), res.summary.discrepancies).catch(
        (err: Error) => ({
          error: err.message.split('\n')[0],
        }),
      );
      if (browser && 'dom_rows' in browser)
        check(browser.dom_rows <= 50, `the HTML table put ${browser.dom_rows} rows in the DOM`);
      ctx.emit({
        metric: 'report_all_files_ms',
        value: Math.round(all.result.ms),
        unit: 'ms',
        baseline: 'warm full reconcile run of the same data',
        baseline_value: Math.round(warm.ms),
        better: 'lower',
        discrepancies: res.summary.discrepancies,
        actions: data.actions.length,
        peak_rss_mib: Math.round(all.peakMiB),
        parts_ms: {
          load: Math.round(load.ms),
          load_discrepancies: Math.round(found.ms),
          link_actions: Math.round(linked.ms),
          discrepancies_csv: Math.round(csv.ms),
          actions_csv: Math.round(actionsCsv.ms),
          xlsx: Math.round(xlsx.ms),
          parquet: Math.round(parquet.ms),
          html: Math.round(html.ms),
        },
        file_kib: sizes,
        browser,
      });
    } finally {
      await pool.close();
    }
  },
};

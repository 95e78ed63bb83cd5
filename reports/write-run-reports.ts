// Writes a run's report files into its folder (<dataDir>/runs/<tenant>/<run id>/, beside
// summary.json): discrepancies.csv, actions.csv, report.xlsx, discrepancies.parquet and
// report.html. With a period, the close pack goes into close-<period>/ inside it, with its own
// summary.json, and is recorded for the next pack's "changed since". The reconcile command calls
// this after every run, `trueup report` to rebuild; everything comes from the control tables.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { withTenantScope } from '../staging/tenant-scope.js';
import { recordPeriodReport } from './close-period.js';
import { ACTION_COLUMNS, DISCREPANCY_COLUMNS } from './columns.js';
import { inSnapshot, loadReportData, type ReportScope } from './load-report.js';
import { loadRun } from './load-run.js';
import { privateDir, writePrivateText } from './report-files.js';
import { type ReportSummary, summarise } from './report-summary.js';
import { writeCsv } from './write-csv.js';

export const REPORT_FILES = [
  'report.html',
  'report.xlsx',
  'discrepancies.csv',
  'actions.csv',
  'discrepancies.parquet',
] as const;

export interface RunReportOptions extends ReportScope {
  /** The run's folder: `<dataDir>/runs/<tenant>/<run id>`. */
  dir: string;
}

export interface RunReportResult {
  /** Where the files are: the run's folder, or its close-<period> folder. */
  dir: string;
  files: string[];
  summary: ReportSummary;
}

/** The folder of a run's reports. */
export const runDir = (dataDir: string, tenant: string, runId: string) =>
  join(dataDir, 'runs', tenant, runId);

export async function writeRunReports(db: pg.Pool, opts: RunReportOptions): Promise<RunReportResult> {
  // Read first: a run that does not exist makes no folder.
  const data = await inSnapshot(db, opts.tenant, (client) => loadReportData(client, opts));
  await privateDir(opts.dir);
  const dir = opts.period ? join(opts.dir, `close-${opts.period.period}`) : opts.dir;
  if (opts.period) await privateDir(dir);
  const summary = summarise(data);
  const files: string[] = [...REPORT_FILES, ...(opts.period ? ['summary.json'] : [])];
  const at = (f: string) => join(dir, f);
  // The HTML, Parquet and XLSX writers are loaded when a report is written: their libraries
  // (echarts, exceljs, DuckDB) took about a second of every trueup command's start, `--help` too.
  const [{ writeHtml }, { writeParquet }, { writeXlsxOffThread }] = await Promise.all([
    import('./write-html.js'),
    import('./write-parquet.js'),
    import('./xlsx-thread.js'),
  ]);
  // Every writer finishes (or fails) before this returns; the first failure is the error.
  const written = await Promise.allSettled([
    writeCsv(at('discrepancies.csv'), DISCREPANCY_COLUMNS, data.discrepancies, data.tenant),
    writeCsv(at('actions.csv'), ACTION_COLUMNS, data.actions, data.tenant),
    writeParquet(at('discrepancies.parquet'), data.discrepancies, {
      tenant: data.tenant,
      runId: data.run.runId,
    }),
    writeXlsxOffThread(at('report.xlsx'), data, summary),
    writeHtml(at('report.html'), data, summary, files),
    ...(data.close
      ? [
          writePrivateText(
            at('summary.json'),
            `${JSON.stringify(
              {
                ...summary,
                close: {
                  period: data.close.period,
                  recordsInPeriod: data.close.recordsInPeriod,
                  signoffs: data.close.signoffs,
                  afterSignoff: data.close.afterSignoff,
                  changes: data.close.changes,
                },
              },
              null,
              2,
            )}\n`,
          ),
        ]
      : []),
  ]);
  const failed = written.find((w): w is PromiseRejectedResult => w.status === 'rejected');
  if (failed) throw failed.reason;
  if (data.close)
    await recordPeriodReport(
      db,
      { tenant: data.tenant, period: data.close.period.period, run: data.run },
      data.discrepancies,
    );
  return { dir, files: files.map(at), summary };
}

/**
 * Writes summary.json from the run's stored summary when the folder has none (a rebuild into a
 * new data folder). An existing one is the run's own and is left as it is.
 */
export async function restoreRunSummary(
  db: pg.Pool,
  opts: { tenant: string; runId: string; dir: string },
): Promise<boolean> {
  const file = join(opts.dir, 'summary.json');
  try {
    await access(file);
    return false;
  } catch {
    const run = await withTenantScope(db, opts.tenant, (client) => loadRun(client, opts.tenant, opts.runId));
    if (!run.summary) return false;
    await privateDir(opts.dir);
    await writePrivateText(file, `${JSON.stringify(run.summary, null, 2)}\n`);
    return true;
  }
}

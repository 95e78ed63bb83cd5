// Writes report.xlsx on a worker thread: the workbook is the slowest of a report's files (exceljs
// builds every cell as an object), so it is made on another core while this thread writes the
// CSV, Parquet and HTML files. The job is plain data (structured clone): the workbook needs the
// discrepancies, the run and the summary, not the actions or the trend. From the TypeScript
// sources (vitest) there is no compiled worker file, and the workbook is written inline.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ReportData } from './report-model.js';
import type { ReportSummary } from './report-summary.js';
import { writeXlsx } from './write-xlsx.js';

export interface XlsxJob {
  file: string;
  data: ReportData;
  summary: ReportSummary;
}

export async function writeXlsxOffThread(
  file: string,
  data: ReportData,
  summary: ReportSummary,
): Promise<void> {
  const workerFile = fileURLToPath(new URL('./xlsx-worker.js', import.meta.url));
  if (!import.meta.url.endsWith('.js') || !existsSync(workerFile)) return writeXlsx(file, data, summary);
  const job: XlsxJob = {
    file,
    data: { ...data, run: { ...data.run, summary: null }, actions: [], trend: [] },
    summary,
  };
  const worker = new Worker(workerFile, { workerData: job });
  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`the thread writing ${file} stopped with exit code ${code}`)),
    );
  });
}

// Benchmark `extract`: Salesforce Bulk API 2.0 extraction of 1M Accounts (TRUEUP_BENCH_SCALE
// scales it) from the sandbox — run as a child `trueup sandbox salesforce` process so that
// serving the CSV does not share this process's event loop or its RSS — into staging, end to
// end (job, locators, streamed fast-csv parse, mapping, version-guarded staging with
// checkpoints). Baseline in the same run: a bare fast-csv parse of the same CSV bytes,
// downloaded once to a file. Peak RSS of this process during the extraction is reported.
// That download also fills the sandbox's cache of rendered seeded rows, so the extraction reads
// pre-rendered CSV as it would read Salesforce's stored result files, and the figure measures
// trueup rather than the sandbox's record generator.
// TRUEUP_BENCH_SANDBOX_NODE_ARGS passes node flags to the sandbox child (e.g. "--cpu-prof").

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parse } from 'fast-csv';
import { ApiClient } from '../../pipeline/connectors/http/api-client.js';
import { BulkQueryClient, windowQuery } from '../../pipeline/connectors/salesforce/bulk-query.js';
import { resolveMappings, selectFields } from '../../pipeline/connectors/salesforce/mapping.js';
import { SalesforcePolicy } from '../../pipeline/connectors/salesforce/policy.js';
import { syncSystem } from '../../pipeline/connectors/stream-runner.js';
import { createLogger } from '../../pipeline/log/logger.js';
import { type BenchDefinition, check, peakRss, timed } from './harness.js';

const TOKEN = 'bench-token';
const MAX_RECORDS = 100_000;

async function startSandboxProcess(records: number): Promise<{ url: string; child: ChildProcess }> {
  const bin = fileURLToPath(new URL('../../pipeline/cli/bin.js', import.meta.url));
  const nodeArgs = (process.env.TRUEUP_BENCH_SANDBOX_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      bin,
      'sandbox',
      'salesforce',
      '--port',
      '0',
      '--seed',
      '1',
      '--records',
      String(records),
      '--token',
      TOKEN,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`sandbox exited with ${code}`)));
  });
  return { url, child };
}

export const extractBench: BenchDefinition = {
  name: 'extract',
  description:
    'Salesforce Bulk 2.0 CSV: 1M Accounts from the sandbox into staging vs a bare fast-csv parse of the same bytes',
  async run(ctx) {
    const n = Math.max(1000, Math.round(1_000_000 * ctx.scale));
    const { url, child } = await startSandboxProcess(n);
    const logger = createLogger({ level: 'warn' });
    try {
      const { staging } = await ctx.freshDatabase('main');
      const system = { kind: 'salesforce', role: 'crm', baseUrl: url, accessToken: TOKEN };
      const limits = { requestsPerSecond: 100, concurrency: 2, maxRetries: 3, timeoutMs: 300_000 };

      // Baseline: the same query's CSV bytes, downloaded once, then parsed bare from the file.
      const file = join(ctx.workDir, 'accounts.csv');
      const api = new ApiClient({
        baseUrl: url,
        policy: new SalesforcePolicy(TOKEN),
        limits,
        tenant: 'bench',
        system: 'crm',
        logger,
      });
      const bulk = new BulkQueryClient(api, '60.0', { minMs: 50, maxMs: 200, timeoutMs: 600_000 });
      const [account] = resolveMappings({ role: 'crm', objects: { Account: 'customer' } });
      const job = await bulk.createJob(
        windowQuery(selectFields(account!), 'Account', null, new Date(Date.now() + 60_000).toISOString()),
        'queryAll',
      );
      await bulk.waitForCompletion(job.id);
      const sink = createWriteStream(file);
      let pages = 0;
      for (let locator: string | null = null, first = true; first || locator; first = false) {
        pages++;
        const res = await api.request('GET', `/services/data/v60.0/jobs/query/${job.id}/results`, {
          query: { locator: locator ?? undefined, maxRecords: MAX_RECORDS },
          accept: 'text/csv',
        });
        const next = res.headers.get('sforce-locator');
        locator = next && next !== 'null' ? next : null;
        for await (const piece of Readable.fromWeb(
          res.body as import('node:stream/web').ReadableStream<Uint8Array>,
        ))
          if (!sink.write(piece)) await once(sink, 'drain');
      }
      await new Promise<void>((r) => sink.end(r));
      await api.close();
      const bytes = (await stat(file)).size;
      const bare = await timed(async () => {
        // fast-csv alone, on this thread: the parser the extraction must use.
        let rows = 0;
        await pipeline(
          createReadStream(file),
          parse({ headers: false }).on('data', () => rows++),
        );
        return rows;
      });
      // Every result page starts with its header line.
      check(bare.result === n + pages, `extract: the baseline parsed ${bare.result - pages} rows, not ${n}`);

      const rssBefore = process.memoryUsage.rss() / 2 ** 20;
      const run = await peakRss(() =>
        timed(() =>
          syncSystem(
            { staging, logger },
            'bench',
            'crm',
            {
              ...system,
              bulk: {
                maxRecords: MAX_RECORDS,
                batchSize: 20_000,
                pollMinMs: 50,
                pollMaxMs: 200,
                lagSeconds: 0,
              },
            },
            { streams: ['Account'], limits },
          ),
        ),
      );
      const report = run.result.result;
      check(report.status === 'completed', `extract: the extraction ended ${report.status}: ${report.error}`);
      const staged = Number(
        (
          await staging.pool.query<{ n: string }>(
            `SELECT count(*) AS n FROM staging.customer WHERE tenant_id = 'bench'`,
          )
        ).rows[0]!.n,
      );
      check(staged === n, `extract: staged ${staged} accounts, the sandbox has ${n}`);
      ctx.emit({
        metric: 'salesforce_bulk_rows_per_s',
        value: Math.round(n / (run.result.ms / 1000)),
        unit: 'rows/s',
        baseline: 'bare fast-csv parse of the same CSV bytes (no HTTP, no mapping, no staging)',
        baseline_value: Math.round((bare.result - 1) / (bare.ms / 1000)),
        better: 'higher',
        rows: n,
        csv_mib: Math.round((bytes / 2 ** 20) * 10) / 10,
        requests: report.requests,
        peak_rss_mib: Math.round(run.peakMiB),
        rss_before_mib: Math.round(rssBefore),
      });
      ctx.emit({
        metric: 'salesforce_extract_peak_rss_mib',
        value: Math.round(run.peakMiB),
        unit: 'MiB',
        baseline: 'RSS of the bench process before the extraction',
        baseline_value: Math.round(rssBefore),
        better: 'lower',
        rows: n,
      });
    } finally {
      child.kill('SIGTERM');
    }
  },
};

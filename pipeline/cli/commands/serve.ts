// `trueup serve`: runs trueup by itself — every tenant's sources, each tenant's scheduled
// reconciliation in its own time zone, the shared job queue, and the HTTP endpoints (/healthz,
// /readyz, /metrics, JSON API). Stops cleanly on SIGINT/SIGTERM. docs/operations.md.
import type { Command } from 'commander';
import { stopSignalOf, trueupWork } from '../../serve/jobs.js';
import { checkBinding, startServe } from '../../serve/serve.js';
import { DEFAULT_SERVE_CONFIG, type ServeConfig } from '../../serve/serve-config.js';
import { type CliContext, UsageError } from '../cli-context.js';

interface Options {
  port?: string;
  host?: string;
  concurrency?: string;
  sources: boolean;
  scheduler: boolean;
  jobs: boolean;
}

function wholeNumber(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}`);
  return n;
}

export function registerServeCommand(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description(
      "run continuously: every tenant's sources, scheduled reconciliations in each tenant's time zone, the shared job queue, and HTTP endpoints for health, metrics and a JSON API",
    )
    .option(
      '--port <n>',
      `HTTP port (default: serve.port, else ${DEFAULT_SERVE_CONFIG.port}; 0 picks a free one)`,
    )
    .option(
      '--host <address>',
      'HTTP address (default: serve.host, else 127.0.0.1; any other address needs serve.token)',
    )
    .option(
      '--concurrency <n>',
      'reconcile jobs this process runs at once (default: serve.concurrency, else 2)',
    )
    .option('--no-sources', 'do not run the sources here (another process captures)')
    .option('--no-scheduler', 'do not queue scheduled runs from here')
    .option('--no-jobs', 'do not run queued jobs here')
    .addHelpText(
      'after',
      `
Config (trueup.yaml):
  serve:
    host: 127.0.0.1          # anything else requires token
    port: ${DEFAULT_SERVE_CONFIG.port}
    token: \${env:TRUEUP_SERVE_TOKEN}   # bearer token for /metrics and /api (a secret reference)
    pollSeconds: 300         # API and CSV sources: seconds between passes
    concurrency: 2           # reconcile jobs at once in this process
  tenants:
    acme:
      timezone: Europe/Berlin
      schedule: "30 2 * * *" # reconcile every night at 02:30 Berlin time

Endpoints: GET /healthz, /readyz, /metrics, /api/status, /api/tenants/<t>/runs|discrepancies|actions,
POST /api/tenants/<t>/runs {"entities"?, "full"?}, POST /api/tenants/<t>/backfills
{"system", "entity", "window": {"from", "to"}} or {"system", "entity", "ids": [...]},
GET /api/jobs/<kind>/<id>.

Run several serve processes (other machines) against one staging database to share the work:
each scheduled run becomes one job, each CDC slot has one reader, a dead process's slots and
jobs are taken over. SIGTERM: sources commit and release their claims, running jobs get
serve.shutdownSeconds, then go back to the queue; exit 0.

Examples:
  $ trueup serve -c trueup.yaml
  $ trueup serve --host 0.0.0.0 --port 8470     with serve.token set
  $ trueup serve --no-sources --concurrency 4   a worker node: jobs only`,
    )
    .action(async (opts: Options, cmd: Command) => {
      const { config } = await ctx.loadConfig(cmd);
      const configured = (config as { serve?: ServeConfig }).serve ?? DEFAULT_SERVE_CONFIG;
      const serve: ServeConfig = {
        ...configured,
        ...(opts.port !== undefined ? { port: wholeNumber(opts.port, '--port', 0, 65535) } : {}),
        ...(opts.host !== undefined ? { host: opts.host } : {}),
        ...(opts.concurrency !== undefined
          ? { concurrency: wholeNumber(opts.concurrency, '--concurrency', 1, 32) }
          : {}),
      };
      try {
        checkBinding(serve.host, serve.token);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      await ctx.withRuntime(cmd, async (rt) => {
        const stop = stopSignalOf(rt);
        const work = trueupWork({
          staging: rt.staging,
          stagingUrl: rt.server.url,
          dataDir: rt.dataDir,
          logger: rt.logger,
          workers: rt.config.workers,
        });
        const running = await startServe({
          config: rt.config,
          serve,
          token: serve.token,
          staging: rt.staging,
          stagingUrl: rt.server.url,
          logger: rt.logger,
          work,
          parts: { sources: opts.sources, scheduler: opts.scheduler, jobs: opts.jobs },
        });
        ctx.err(`trueup serve: listening on ${running.url} (SIGTERM or Ctrl-C stops)\n`);
        await new Promise<void>((resolve) => {
          if (stop.aborted) resolve();
          else stop.addEventListener('abort', () => resolve(), { once: true });
        });
        const out = await running.stop();
        // The reconcile worker pool is closed only when no job was handed back: a handed-back job
        // still runs on it, and the process ends right after this command returns anyway.
        if (!out.handedBack)
          await Promise.race([work.close(), new Promise((r) => setTimeout(r, 5_000).unref())]);
        ctx.err(
          `trueup serve: stopped${out.handedBack ? ` (${out.handedBack} running job(s) handed back to the queue)` : ''}\n`,
        );
      });
    });
}

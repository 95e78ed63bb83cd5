// `trueup demo`: trueup's whole job on three generated tenants, on this machine, with nothing to
// configure — sources, sync, reconcile, reports, auto-approved corrections applied, and the second
// pass showing them resolved (pipeline/demo/, docs/demo.md). `--keep` leaves it running with serve.
import { join } from 'node:path';
import type { Command } from 'commander';
import { redact } from '../../config/secrets.js';
import { DEFAULT_DEMO_CUSTOMERS, runDemo } from '../../demo/run-demo.js';
import { isRoot } from '../../embedded/binaries.js';
import { defaultHome } from '../../embedded/postgres-server.js';
import { createLogger, setRootLogger } from '../../log/logger.js';
import { shutdown } from '../../runtime.js';
import { type CliContext, UsageError } from '../cli-context.js';

/** The demo's folder: <TRUEUP_HOME>/demo; as root without TRUEUP_HOME, /var/lib/trueup/demo (reachable by the postgres user). */
export function demoFolder(env: Readonly<Record<string, string | undefined>>): string {
  if (!env.TRUEUP_HOME && isRoot()) return '/var/lib/trueup/demo';
  return join(defaultHome(env as NodeJS.ProcessEnv), 'demo');
}

function wholeNumber(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max)
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}`);
  return n;
}

export function registerDemoCommand(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description(
      'run the whole loop on three generated tenants (Odoo/Salesforce, NetSuite/HubSpot, Odoo/Twenty): sync, reconcile, reports, corrections applied, resolved',
    )
    .option('--keep', 'leave everything running with `trueup serve` until Ctrl-C')
    .option(
      '--customers <n>',
      'generated customers per tenant (and as many products, orders and invoices where the tenant has them)',
      String(DEFAULT_DEMO_CUSTOMERS),
    )
    .option('--port <n>', 'with --keep: the HTTP port of serve (0 picks a free one)', '8470')
    .addHelpText(
      'after',
      `
Examples:
  $ trueup demo                   run it, print the summary and the report paths, stop everything
  $ trueup demo --keep            then keep it running: try trueup commands and the reports on it
  $ trueup demo --customers 1000  more data per tenant

Everything lives in <TRUEUP_HOME>/demo (default ~/.trueup/demo; as root /var/lib/trueup/demo),
emptied at the start: the staging and source Postgres clusters, trueup.yaml (the config of the
three tenants), the run folders with the reports. The demo never uses TRUEUP_DATABASE_URL.
Exit codes: 0 every correction was applied and resolved, 1 otherwise (the summary says where).`,
    )
    .action(async (opts: { keep?: boolean; customers: string; port: string }, cmd: Command) => {
      const customers = wholeNumber(opts.customers, '--customers', 20, 100_000);
      const port = wholeNumber(opts.port, '--port', 0, 65535);
      // The demo prints its own progress: the logs stay at warn unless --log-level is given.
      const explicit = cmd.parent?.getOptionValueSource('logLevel') === 'cli';
      const logger = explicit ? ctx.logger(cmd) : createLogger({ level: 'warn' });
      if (!explicit) setRootLogger(logger);
      const stop = shutdown.observe();
      try {
        const result = await runDemo({
          dir: demoFolder(ctx.env),
          customers,
          keep: opts.keep ?? false,
          port,
          env: ctx.env,
          logger,
          // A failing step's message may quote a connection string: secrets never reach the terminal.
          say: (line) => ctx.out(`${redact(line)}\n`),
          signal: stop.signal,
        });
        ctx.out(
          result.ok
            ? '\ndemo finished: every correction was applied and is resolved in the second pass\n'
            : '\ndemo finished, but some corrections are not resolved (see above)\n',
        );
        if (!result.ok) process.exitCode = 1;
      } finally {
        stop.done();
      }
    });
}

// `trueup sync --tenant T [--once]`: captures a tenant's sources into staging. Postgres sources
// (CDC) snapshot and then stream; API and CSV sources run one extraction pass (full the first
// time, incremental after) and, without --once, another pass every --interval seconds. Each
// source runs on its own; one failing never stops the others. Without --once it runs until
// SIGINT/SIGTERM, then commits and acknowledges what it holds and exits. Each CDC source has one
// reader at a time (a claim on the staging database): a second sync waits for it, or with
// --once fails naming the holder.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { runApiSync } from '../../connectors/api-syncs.js';
import { type PostgresSystemConfig, replicationNames } from '../../connectors/postgres/config.js';
import { runSource } from '../../connectors/postgres/sync-source.js';
import type { SyncReport } from '../../connectors/sync-support.js';
import { type CliContext, configuredTenant, UsageError } from '../cli-context.js';

export function registerSyncCommand(program: Command, ctx: CliContext): void {
  program
    .command('sync')
    .description(
      "capture a tenant's sources into staging: Postgres CDC (snapshot, then the replication stream), Salesforce, HubSpot, NetSuite and CSV drops (full load, then incremental)",
    )
    .requiredOption('--tenant <id>', 'the tenant to sync')
    .option('--system <name>', 'only this system of the tenant')
    .option(
      '--once',
      'stage everything available now, then exit (fail, not wait, if another sync reads the source)',
    )
    .option('--full', 'API and CSV sources: a full load instead of incremental')
    .option('--interval <seconds>', 'API and CSV sources: seconds between passes without --once', '300')
    .option(
      '--resnapshot',
      'drop the slot and take a fresh snapshot (recovery after a lost slot or a stopped table)',
    )
    .addHelpText(
      'after',
      `
Examples:
  $ trueup sync --tenant acme --once                      stage everything available and exit
  $ trueup sync --tenant acme                             stream until interrupted
  $ trueup sync --tenant acme --system erp --resnapshot   rebuild the erp source from a fresh snapshot
  $ trueup sync --tenant acme --system crm --full --once  re-extract the crm (an API source) in full

One sync reads a source at a time: another one waits and takes over when the first ends or dies.`,
    )
    .action(
      async (
        opts: {
          tenant: string;
          system?: string;
          once?: boolean;
          resnapshot?: boolean;
          full?: boolean;
          interval: string;
        },
        cmd: Command,
      ) => {
        const { config } = await ctx.loadConfig(cmd);
        const tenant = configuredTenant(config, opts.tenant);
        const interval = Number(opts.interval);
        if (!Number.isFinite(interval) || interval < 1)
          throw new UsageError('--interval must be a number of seconds ≥ 1');
        const selected = Object.entries(tenant.systems).filter(
          ([name]) => !opts.system || name === opts.system,
        );
        if (opts.system && !selected.length)
          throw new UsageError(`tenant ${opts.tenant} has no system named "${opts.system}"`);
        if (!selected.length) throw new UsageError(`tenant ${opts.tenant} has no systems to sync`);
        const cdc = selected.filter(([, s]) => s.kind === 'postgres') as [string, PostgresSystemConfig][];
        const apis = selected.filter(([, s]) => s.kind !== 'postgres');
        await ctx.withRuntime(cmd, async (rt) => {
          const abort = new AbortController();
          const onSignal = () => abort.abort();
          process.once('SIGINT', onSignal);
          process.once('SIGTERM', onSignal);
          const logger = rt.logger.child({ command: 'sync', tenant: opts.tenant });
          let failed = false;
          try {
            const cdcRuns = cdc.map(async ([name, cfg]) => {
              const r = await runSource({
                tenant: opts.tenant,
                system: name,
                config: cfg,
                staging: rt.staging,
                logger,
                once: opts.once ?? false,
                resnapshot: opts.resnapshot ?? false,
                signal: abort.signal,
              });
              const slot = replicationNames(opts.tenant, name, cfg).slot;
              const extra = r.stoppedTables.length ? `; stopped tables: ${r.stoppedTables.join(', ')}` : '';
              ctx.out(
                `${opts.tenant}/${name} (slot ${slot}): ${r.outcome}${r.error ? ` — ${r.error.message}` : ''}${extra}\n`,
              );
              if (r.outcome === 'failed') failed = true;
            });
            const apiRuns = apis.map(async ([name, cfg]) => {
              for (;;) {
                const report = await runApiSync(
                  { staging: rt.staging, logger },
                  cfg.kind as 'csv',
                  opts.tenant,
                  name,
                  cfg,
                  {
                    mode: opts.full ? 'full' : 'auto',
                    entities: tenant.entities,
                  },
                );
                ctx.out(`${describeReport(report)}\n`);
                if (report.status === 'failed') failed = true;
                if (opts.once || abort.signal.aborted) return;
                await sleep(interval * 1000, undefined, { signal: abort.signal }).catch(() => {});
                if (abort.signal.aborted) return;
              }
            });
            await Promise.all([...cdcRuns, ...apiRuns]);
            if (failed) process.exitCode = 1;
          } finally {
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
          }
        });
      },
    );
}

/** One line per pass: "acme/crm (salesforce): completed, 3 streams, 1200 received, 1180 staged, 2 dead-lettered". */
export function describeReport(r: SyncReport): string {
  const sum = (k: 'received' | 'inserted' | 'updated' | 'deleted' | 'deadLettered') =>
    r.streams.reduce((n, s) => n + s[k], 0);
  // A delete that changed staging is already an insert (tombstone of an unseen record) or an
  // update; `deleted` counts the deletes received, applied or not, so it is not added again.
  const staged = sum('inserted') + sum('updated');
  const head = `${r.tenant}/${r.system} (${r.kind}): ${r.status}`;
  const counts = `${r.streams.length} stream${r.streams.length === 1 ? '' : 's'}, ${sum('received')} received, ${staged} staged, ${sum('deadLettered')} dead-lettered`;
  const why = r.error ? ` — ${r.error}` : r.resumeAt ? ` — resumes after ${r.resumeAt}` : '';
  const streams = r.streams
    .filter((s) => s.status !== 'completed')
    .map((s) => `\n  ${s.stream}: ${s.status}${s.detail ? ` — ${s.detail}` : ''}`)
    .join('');
  return `${head}, ${counts}${why}${streams}`;
}

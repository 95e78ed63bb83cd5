// `trueup sync --tenant T [--once]`: captures a tenant's sources into staging through the stream
// runner (connectors/capture-systems.ts): pass kinds run a pass (full the first time, incremental
// after) and, without --once, another every --interval seconds; continuous kinds (Postgres CDC)
// snapshot, then stream until SIGINT/SIGTERM. One source failing never stops the others. Each
// report says per entity what the run staged and could not; too many dead letters exit 1.
import type { Command } from 'commander';
import { captureSystems } from '../../connectors/capture-systems.js';
import { connectors } from '../../connectors/registry.js';
import { deadLetterAlerts, describeEntities, describeReport } from '../../connectors/sync-report.js';
import { type CliContext, configuredTenant, UsageError } from '../cli-context.js';
import { createProgress, type Progress } from '../progress.js';

/** The registered kinds with their titles, for --help (read when help is shown). */
export function kindsHelp(): string {
  const list = connectors();
  const width = Math.max(...list.map((c) => c.kind.length));
  return list.map((c) => `  ${c.kind.padEnd(width)}  ${c.title}`).join('\n');
}

const passKinds = () =>
  connectors()
    .filter((c) => c.capture.mode === 'passes')
    .map((c) => c.kind)
    .join(', ');

export function registerSyncCommand(program: Command, ctx: CliContext): void {
  program
    .command('sync')
    .description(
      "capture a tenant's sources into staging: continuous sources (CDC) snapshot, then stream; the others run passes (full load, then incremental)",
    )
    .requiredOption('--tenant <id>', 'the tenant to sync')
    .option('--system <name>', 'only this system of the tenant')
    .option(
      '--once',
      'stage everything available now, then exit (fail, not wait, if another sync reads the source)',
    )
    .option('--full', `pass sources (${passKinds()}): a full load instead of incremental`)
    .option('--interval <seconds>', 'pass sources: seconds between passes without --once', '300')
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

One sync reads a source at a time: another one waits and takes over when the first ends or dies.

Under each system's line, per entity: rows read, staged, tombstoned and dead-lettered by this run
(grouped by reason, with the first record ids) and the open dead letters. Exit 1 when a source
failed, or when an entity's dead letters this run exceed the tenant's sync.maxDeadLetterShare
(default 0.01) of the rows it read: the line names the mapping to look at.`,
    )
    .addHelpText('after', () => `\nConnector kinds (tenants.<id>.systems.<name>.kind):\n${kindsHelp()}`)
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
        const maxShare = tenant.sync.maxDeadLetterShare;
        let alerted = false;
        await ctx.withRuntime(cmd, async (rt) => {
          const abort = new AbortController();
          const onSignal = () => abort.abort();
          // SIGINT/SIGTERM arrive as the runtime's stop signal (pipeline/runtime.ts, cli/bin.ts).
          const stop = rt.stopSignal();
          stop.addEventListener('abort', onSignal, { once: true });
          if (stop.aborted) onSignal();
          const logger = rt.logger.child({ command: 'sync', tenant: opts.tenant });
          // Rows staged by the pass sources (API, CSV) as they commit; CDC reports its own progress.
          let progress: Progress | undefined;
          try {
            const failed = await captureSystems(
              { staging: rt.staging, logger },
              {
                tenant: opts.tenant,
                systems: selected,
                options: {
                  mode: opts.full ? 'full' : 'auto',
                  entities: tenant.entities,
                  onUnitStaged: ({ rows }) => {
                    progress ??= createProgress(`sync ${opts.tenant}`, { finalOnlyIfLong: true });
                    progress.tick(rows);
                  },
                },
                once: opts.once ?? false,
                resnapshot: opts.resnapshot ?? false,
                intervalMs: interval * 1000,
                signal: abort.signal,
                onReport: (report) => {
                  ctx.out(`${describeReport(report)}\n${describeEntities(report)}`);
                  const alerts = deadLetterAlerts(report, maxShare);
                  for (const a of alerts) ctx.out(`over the dead-letter threshold: ${a.message}\n`);
                  if (alerts.length) alerted = true;
                },
              },
            );
            if (failed || alerted) process.exitCode = 1;
          } finally {
            progress?.stop('staged');
            stop.removeEventListener('abort', onSignal);
          }
        });
      },
    );
}

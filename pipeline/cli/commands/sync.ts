// `trueup sync --tenant T [--once]`: runs the tenant's CDC sources (kind `postgres`). Each
// source runs on its own; one failing never stops the others. Without --once it streams until
// SIGINT/SIGTERM, then commits and acknowledges what it holds and exits. Each source has one
// reader at a time (a claim on the staging database): a second sync waits for it, or with
// --once fails naming the holder.
import type { Command } from 'commander';
import { type PostgresSystemConfig, replicationNames } from '../../connectors/postgres/config.js';
import { runSource } from '../../connectors/postgres/sync-source.js';
import { type CliContext, UsageError } from '../cli-context.js';

export function registerSyncCommand(program: Command, ctx: CliContext): void {
  program
    .command('sync')
    .description(
      "capture a tenant's Postgres sources (snapshot, then the logical replication stream) into staging",
    )
    .requiredOption('--tenant <id>', 'the tenant to sync')
    .option('--system <name>', 'only this system of the tenant')
    .option(
      '--once',
      'stage everything available now, then exit (fail, not wait, if another sync reads the source)',
    )
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

One sync reads a source at a time: another one waits and takes over when the first ends or dies.`,
    )
    .action(
      async (
        opts: { tenant: string; system?: string; once?: boolean; resnapshot?: boolean },
        cmd: Command,
      ) => {
        const { config } = await ctx.loadConfig(cmd);
        const tenant = config.tenants[opts.tenant];
        if (!tenant) throw new UsageError(`no tenant "${opts.tenant}" in the config`);
        const systems = Object.entries(tenant.systems).filter(
          ([name, s]) => s.kind === 'postgres' && (!opts.system || name === opts.system),
        ) as [string, PostgresSystemConfig][];
        if (opts.system && !systems.length)
          throw new UsageError(`tenant ${opts.tenant} has no postgres system named "${opts.system}"`);
        if (!systems.length) throw new UsageError(`tenant ${opts.tenant} has no postgres systems to sync`);
        await ctx.withRuntime(cmd, async (rt) => {
          const abort = new AbortController();
          const onSignal = () => abort.abort();
          process.once('SIGINT', onSignal);
          process.once('SIGTERM', onSignal);
          try {
            const results = await Promise.all(
              systems.map(async ([name, cfg]) => {
                const out = await runSource({
                  tenant: opts.tenant,
                  system: name,
                  config: cfg,
                  staging: rt.staging,
                  logger: rt.logger.child({ command: 'sync' }),
                  once: opts.once ?? false,
                  resnapshot: opts.resnapshot ?? false,
                  signal: abort.signal,
                });
                return { name, slot: replicationNames(opts.tenant, name, cfg).slot, ...out };
              }),
            );
            for (const r of results) {
              const extra = r.stoppedTables.length ? `; stopped tables: ${r.stoppedTables.join(', ')}` : '';
              ctx.out(
                `${opts.tenant}/${r.name} (slot ${r.slot}): ${r.outcome}${r.error ? ` — ${r.error.message}` : ''}${extra}\n`,
              );
            }
            if (results.some((r) => r.outcome === 'failed')) process.exitCode = 1;
          } finally {
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
          }
        });
      },
    );
}

// `trueup dlq list|replay|discard`: the records that could not be staged, their replay through the
// one write path, and their discarding (kept for audit). staging/control/dead-letters.ts owns them.
import type { Command } from 'commander';
import { DEAD_LETTER_STATUSES, type DeadLetterStatus } from '../../../staging/control/dead-letter-states.js';
import { discardDeadLetters, listDeadLetters } from '../../../staging/control/dead-letters.js';
import { replayDeadLetters } from '../../../staging/control/replay-dead-letters.js';
import { tenantStaging } from '../../../staging/scoped-staging.js';
import { tenantRemappers } from '../../connectors/remap.js';
import { type CliContext, checkIds, configuredTenant, EXIT_FAILURE, UsageError } from '../cli-context.js';
import { formatTable } from '../format-table.js';

export function registerDlqCommands(program: Command, ctx: CliContext): void {
  const dlq = program.command('dlq').description('list, replay or discard dead-lettered records');

  dlq
    .command('list')
    .description('list dead letters (open by default)')
    .option('--tenant <id>', 'only this tenant')
    .option('--system <name>', 'only this system')
    .option('--entity <entity>', 'only this entity')
    .option('--status <status>', `${DEAD_LETTER_STATUSES.join(', ')} or all`, 'open')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print JSON lines with the full record')
    .addHelpText('after', '\nExample:\n  $ trueup dlq list --tenant acme --entity customer')
    .action(
      async (
        opts: {
          tenant?: string;
          system?: string;
          entity?: string;
          status: string;
          limit: string;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        if (opts.status !== 'all' && !(DEAD_LETTER_STATUSES as readonly string[]).includes(opts.status))
          throw new UsageError(`--status must be ${DEAD_LETTER_STATUSES.join(', ')} or all`);
        await ctx.withRuntime(cmd, async (rt) => {
          if (opts.tenant !== undefined) configuredTenant(rt.config, opts.tenant);
          // One tenant's list in its scope; without --tenant, the list across tenants (unscoped).
          const staging = opts.tenant !== undefined ? tenantStaging(rt.staging, opts.tenant) : rt.staging;
          const rows = await listDeadLetters(staging.db, {
            ...opts,
            status: opts.status as DeadLetterStatus | 'all',
            limit: Number(opts.limit),
          });
          if (opts.json) {
            for (const r of rows) ctx.out(`${JSON.stringify(r)}\n`);
            return;
          }
          ctx.out(
            `${formatTable(
              [
                'id',
                'tenant',
                'system',
                'entity',
                'record',
                'kind',
                'attempts',
                'last seen',
                'where',
                'error',
              ],
              rows.map((r) => [
                r.id,
                r.tenant,
                r.system,
                r.entity,
                r.sourceId ?? '-',
                r.errorKind,
                String(r.attempts),
                r.lastSeen.toISOString(),
                r.location ?? '-',
                r.lastReplayError ? `${r.errorMessage} (last replay: ${r.lastReplayError})` : r.errorMessage,
              ]),
            )}\n`,
          );
        });
      },
    );

  dlq
    .command('replay')
    .description(
      "stage dead-lettered records again, mapped again with the current config (those still invalid stay open with attempts + 1; the original error is kept, the replay's own failure is shown beside it)",
    )
    .requiredOption('--tenant <id>', 'tenant whose dead letters to replay')
    .option('--system <name>', 'only this system')
    .option('--entity <entity>', 'only this entity')
    .argument('[ids...]', 'dead-letter ids (default: all open ones of the tenant)')
    .addHelpText(
      'after',
      `
Examples:
  $ trueup dlq replay --tenant acme 12 13
  $ trueup dlq replay --tenant acme --system legacy --entity customer

A dead letter keeps the source row. Replay maps it again with the current config (the system's
mapping, the tenant's entities.<entity>.mapping.<system>, formats), so fixing a mapping and
replaying recovers the records without reading the source again; records are staged through the
version guard and the letter is marked replayed in the same transaction. A Postgres field mapped
by a SQL expression cannot be evaluated offline: such letters are staged as they were stored
(re-read them with \`trueup backfill --ids\`). Exit 1 when any letter still fails.`,
    )
    .action(
      async (list: string[], opts: { tenant: string; system?: string; entity?: string }, cmd: Command) => {
        await ctx.withRuntime(cmd, async (rt) => {
          const tenantConfig = configuredTenant(rt.config, opts.tenant);
          const remappers = tenantRemappers(opts.tenant, tenantConfig.systems, tenantConfig.entities);
          const res = await replayDeadLetters(
            tenantStaging(rt.staging, opts.tenant),
            {
              tenant: opts.tenant,
              ...(list.length ? { ids: checkIds(list, 'dead-letter') } : {}),
              ...(opts.system !== undefined ? { system: opts.system } : {}),
              ...(opts.entity !== undefined ? { entity: opts.entity } : {}),
            },
            { remappers },
          );
          ctx.out(
            `replayed ${res.replayed.length}, still failing ${res.failed.length} (${res.remapped} mapped again with the current config)\n`,
          );
          for (const f of res.failed) ctx.out(`  ${f.id}: ${f.message}\n`);
          if (res.failed.length) process.exitCode = EXIT_FAILURE;
        });
      },
    );

  dlq
    .command('discard')
    .description('mark dead letters discarded (kept for audit, no longer open)')
    .requiredOption('--tenant <id>', 'tenant')
    .argument('<ids...>', 'dead-letter ids')
    .addHelpText('after', '\nExample:\n  $ trueup dlq discard --tenant acme 12')
    .action(async (list: string[], opts: { tenant: string }, cmd: Command) => {
      await ctx.withRuntime(cmd, async (rt) => {
        configuredTenant(rt.config, opts.tenant);
        const n = await discardDeadLetters(
          tenantStaging(rt.staging, opts.tenant).db,
          opts.tenant,
          checkIds(list, 'dead-letter'),
        );
        ctx.out(`discarded ${n}\n`);
      });
    });
}

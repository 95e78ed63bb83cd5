import type { Command } from 'commander';
import { listCheckpoints } from '../../../staging/checkpoints.js';
import { countOpenDeadLetters } from '../../../staging/dead-letters.js';
import { listTenants, upsertTenants } from '../../../staging/tenants.js';
import type { CliContext } from '../cli-context.js';
import { formatTable } from '../format-table.js';

export function registerStatusCommand(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description('tenants, the last checkpoint of every source stream, and open dead letters')
    .option('--tenant <id>', 'only this tenant')
    .option('--json', 'print JSON instead of tables')
    .addHelpText('after', '\nExample:\n  $ trueup status --tenant acme')
    .action(async (opts: { tenant?: string; json?: boolean }, cmd: Command) => {
      await ctx.withRuntime(cmd, async (rt) => {
        const configured = Object.entries(rt.config.tenants).map(([id, t]) => ({
          id,
          ...(t.displayName ? { displayName: t.displayName } : {}),
        }));
        await upsertTenants(rt.staging.db, configured);
        const tenants = (await listTenants(rt.staging.db)).filter(
          (t) => !opts.tenant || t.id === opts.tenant,
        );
        const checkpoints = await listCheckpoints(rt.staging.db, opts.tenant);
        const dead = (await countOpenDeadLetters(rt.staging.db)).filter(
          (d) => !opts.tenant || d.tenant === opts.tenant,
        );
        if (opts.json) {
          ctx.out(`${JSON.stringify({ tenants, checkpoints, deadLetters: dead }, null, 2)}\n`);
          return;
        }
        ctx.out(`staging: ${rt.server.embedded ? 'embedded Postgres' : 'external Postgres'}\n\n`);
        ctx.out(
          `${formatTable(
            ['tenant', 'systems', 'open dead letters'],
            tenants.map((t) => [
              t.id,
              Object.keys(rt.config.tenants[t.id]?.systems ?? {}).join(', ') || '-',
              String(dead.filter((d) => d.tenant === t.id).reduce((n, d) => n + d.count, 0)),
            ]),
          )}\n`,
        );
        ctx.out(
          `${formatTable(
            ['tenant', 'system', 'stream', 'state', 'position', 'rows', 'updated'],
            checkpoints.map((c) => [
              c.tenant,
              c.system,
              c.stream,
              c.state + (c.detail ? ` (${c.detail})` : ''),
              JSON.stringify(c.position),
              String(c.rowsTotal),
              c.updatedAt.toISOString(),
            ]),
          )}\n`,
        );
        if (dead.length)
          ctx.out(
            `${formatTable(
              ['tenant', 'system', 'entity', 'open dead letters'],
              dead.map((d) => [d.tenant, d.system, d.entity, String(d.count)]),
            )}\n`,
          );
      });
    });
}

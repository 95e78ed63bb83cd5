import type { Command } from 'commander';
import { migrate } from '../../../staging/migrate.js';
import type { CliContext } from '../cli-context.js';

export function registerMigrateCommand(program: Command, ctx: CliContext): void {
  program
    .command('migrate')
    .description('apply pending staging migrations (safe to run twice, or from two processes at once)')
    .addHelpText(
      'after',
      '\nExample:\n  $ trueup migrate\n  $ TRUEUP_DATABASE_URL=postgres://trueup@db/trueup trueup migrate',
    )
    .action(async (_opts, cmd: Command) => {
      await ctx.withRuntime(
        cmd,
        async (rt) => {
          const res = await migrate(rt.staging.pool);
          if (res.applied.length)
            ctx.out(`applied ${res.applied.length} migration(s): ${res.applied.join(', ')}\n`);
          else ctx.out(`nothing to apply (${res.alreadyApplied} migrations already applied)\n`);
        },
        { migrations: 'skip' },
      );
    });
}

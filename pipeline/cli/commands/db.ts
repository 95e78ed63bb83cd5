import type { Command } from 'commander';
import { redact } from '../../config/secrets.js';
import type { CliContext } from '../cli-context.js';

export function registerDbCommands(program: Command, ctx: CliContext): void {
  const db = program
    .command('db')
    .description('the staging Postgres (embedded unless TRUEUP_DATABASE_URL or staging.url is set)');

  db.command('start')
    .description('start the embedded Postgres and keep it running until interrupted, so commands share it')
    .addHelpText('after', '\nExample:\n  $ trueup db start &   # then trueup commands reuse it')
    .action(async (_opts, cmd: Command) => {
      await ctx.withRuntime(cmd, async (rt) => {
        ctx.out(`staging Postgres ready at ${redact(rt.server.url)}; press Ctrl-C to stop\n`);
        const stop = rt.stopSignal();
        await new Promise<void>((resolve) => {
          if (stop.aborted) resolve();
          else stop.addEventListener('abort', () => resolve(), { once: true });
        });
      });
    });

  db.command('url')
    .description('print the staging connection URL with its password hidden')
    .addHelpText('after', '\nExample:\n  $ trueup db url')
    .action(async (_opts, cmd: Command) => {
      await ctx.withRuntime(cmd, async (rt) => {
        ctx.out(`${redact(rt.server.url)}\n`);
      });
    });
}

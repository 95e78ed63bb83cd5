// The `trueup` command line. Each command lives in commands/<name>.ts and registers itself on
// the program; this file wires global options, logging and exit codes.
import { Command, CommanderError, Option } from 'commander';
import { createCliContext, EXIT_USAGE, reportError } from './cli-context.js';
import { registerActionsCommands } from './commands/actions.js';
import { registerBackfillCommand } from './commands/backfill.js';
import { registerCloseCommand } from './commands/close.js';
import { registerConfigCommands } from './commands/config.js';
import { registerDbCommands } from './commands/db.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDiscrepanciesCommands } from './commands/discrepancies.js';
import { registerDlqCommands } from './commands/dlq.js';
import { registerMigrateCommand } from './commands/migrate.js';
import { registerReconcileCommand } from './commands/reconcile.js';
import { registerRemapCommand } from './commands/remap.js';
import { registerReportCommand } from './commands/report.js';
import { registerSandboxCommand } from './commands/sandbox.js';
import { registerServeCommand } from './commands/serve.js';
import { registerStatusCommand } from './commands/status.js';
import { registerSyncCommand } from './commands/sync.js';
import { registerXrefCommands } from './commands/xref.js';

export function buildProgram(ctx = createCliContext(process.env, (t) => process.stdout.write(t))): Command {
  const program = new Command('trueup')
    .description('Keeps ERP and CRM data honest: capture, stage, reconcile, correct.')
    .addOption(
      new Option('-c, --config <file>', 'config file (default: $TRUEUP_CONFIG, else embedded defaults)'),
    )
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal'])
        .default('info'),
    )
    .showHelpAfterError()
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples:
  $ trueup migrate                      create or upgrade the staging schema (embedded Postgres by default)
  $ trueup config check -c trueup.yaml  validate a config file
  $ trueup status                       tenants, checkpoints and dead letters

Environment:
  TRUEUP_CONFIG         config file when --config is not given
  TRUEUP_DATABASE_URL   staging Postgres; without it trueup runs its own embedded Postgres
  TRUEUP_HOME           trueup's folder for the embedded cluster and run outputs (default ~/.trueup)

Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.`,
    );
  registerMigrateCommand(program, ctx);
  registerConfigCommands(program, ctx);
  registerStatusCommand(program, ctx);
  registerDlqCommands(program, ctx);
  registerDbCommands(program, ctx);
  registerSyncCommand(program, ctx);
  registerBackfillCommand(program, ctx);
  registerRemapCommand(program, ctx);
  registerSandboxCommand(program, ctx);
  registerReconcileCommand(program, ctx);
  registerXrefCommands(program, ctx);
  registerDiscrepanciesCommands(program, ctx);
  registerActionsCommands(program, ctx);
  registerReportCommand(program, ctx);
  registerCloseCommand(program, ctx);
  registerServeCommand(program, ctx);
  registerDemoCommand(program, ctx);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

export async function runCli(
  argv: string[],
  ctx = createCliContext(process.env, (t) => process.stdout.write(t)),
): Promise<number> {
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
      )
        return 0;
      return EXIT_USAGE;
    }
    return reportError(err, ctx.err);
  }
}

// `trueup config check|schema`: validates a config file (every problem with its path and line) or
// prints the JSON Schema of trueup.yaml; both cover every connector kind in the registry.
import type { Command } from 'commander';
import { ConfigError, configJsonSchema } from '../../config/load-config.js';
import { type CliContext, EXIT_USAGE, UsageError } from '../cli-context.js';

export function registerConfigCommands(program: Command, ctx: CliContext): void {
  const config = program.command('config').description('check a config file or print its JSON Schema');

  config
    .command('check')
    .description('validate the config: prints every problem with its path and exits 2 if there is any')
    .argument('[file]', 'config file (default: --config or $TRUEUP_CONFIG)')
    .addHelpText('after', '\nExample:\n  $ trueup config check examples/trueup.yaml')
    .action(async (file: string | undefined, _opts, cmd: Command) => {
      const path = file ?? ctx.globals(cmd).config ?? ctx.env.TRUEUP_CONFIG;
      if (!path)
        throw new UsageError(
          'config check needs a file: trueup config check FILE (or --config, or TRUEUP_CONFIG)',
        );
      try {
        const { loadConfigFile } = await import('../../config/load-config.js');
        const loaded = await loadConfigFile(path, ctx.env);
        const tenants = Object.keys(loaded.config.tenants);
        ctx.out(
          `${loaded.file}: ok (${tenants.length} tenant${tenants.length === 1 ? '' : 's'}${tenants.length ? `: ${tenants.join(', ')}` : ''})\n`,
        );
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        ctx.out(`${err.message}\n`);
        process.exitCode = EXIT_USAGE;
      }
    });

  config
    .command('schema')
    .description('print the JSON Schema of trueup.yaml (for editor completion and validation)')
    .addHelpText('after', '\nExample:\n  $ trueup config schema > trueup.schema.json')
    .action(() => {
      ctx.out(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
}

// What every command gets from the CLI entry point: config loading, the runtime, output and the
// exit-code discipline (0 ok, 1 runtime failure, 2 usage or config error).
import type { Command } from 'commander';
import { TENANT_ID_PATTERN } from '../../staging/identifiers.js';
import { ConfigError, EMPTY_CONFIG, type LoadedConfig, loadConfigFile } from '../config/load-config.js';
import type { TenantConfig, TrueupConfig } from '../config/schema.js';
import { redact } from '../config/secrets.js';
import { createLogger, type Logger, setRootLogger } from '../log/logger.js';
import { openRuntime, type Runtime } from '../runtime.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Set once a command runs at --log-level debug or trace: printed errors then carry their stack. */
let stacksShown = false;

/** An error the user can fix by changing how they called trueup or their config (exit 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A `--tenant` that cannot be a tenant id (checked before anything starts): exit 2. */
export function checkTenantId(tenant: string): void {
  if (!TENANT_ID_PATTERN.test(tenant))
    throw new UsageError(
      `--tenant ${JSON.stringify(tenant)} is not a tenant id (1-63 characters of a-z, 0-9, "_" and "-")`,
    );
}

/**
 * Ids given on the command line (discrepancies, actions, dead letters) without repeats. They are
 * Postgres bigints: anything else is a usage error (exit 2), never a failing query (exit 1).
 */
export function checkIds(ids: readonly string[], what: string): string[] {
  for (const id of ids)
    if (!/^[1-9]\d{0,18}$/.test(id) || BigInt(id) > 9223372036854775807n)
      throw new UsageError(`${what} ids are positive whole numbers, not ${JSON.stringify(id)}`);
  return [...new Set(ids)];
}

/**
 * The config of a tenant named by `--tenant`, or a UsageError (exit 2) listing the configured
 * ones: a typo must not read as "nothing to show" (exit 0 with empty tables).
 */
export function configuredTenant(config: TrueupConfig, tenant: string): TenantConfig {
  // Own keys only: `--tenant constructor` is no tenant.
  const t = Object.hasOwn(config.tenants, tenant) ? config.tenants[tenant] : undefined;
  if (!t)
    throw new UsageError(
      `unknown tenant '${tenant}' (configured: ${Object.keys(config.tenants).sort().join(', ') || 'none'})`,
    );
  return t;
}

export interface GlobalOptions {
  config?: string;
  logLevel: string;
}

export interface CliContext {
  env: Readonly<Record<string, string | undefined>>;
  /** Command output (stdout): tables, or JSON that must stay parseable. */
  out: (text: string) => void;
  /** Problems beside the output (stderr), redacted. */
  err: (text: string) => void;
  globals(cmd: Command): GlobalOptions;
  logger(cmd: Command): Logger;
  loadConfig(cmd: Command): Promise<LoadedConfig>;
  /** Opens the runtime (config, Postgres, staging) around `fn` and closes it after. */
  withRuntime<T>(
    cmd: Command,
    fn: (rt: Runtime) => Promise<T>,
    opts?: { migrations?: 'auto' | 'require' | 'skip' },
  ): Promise<T>;
}

export function createCliContext(
  env: Readonly<Record<string, string | undefined>>,
  out: (text: string) => void,
  err: (text: string) => void = (t) => process.stderr.write(t),
): CliContext {
  let logger: Logger | undefined;
  const ctx: CliContext = {
    env,
    out,
    err: (text) => err(redact(text)),
    globals(cmd) {
      return cmd.optsWithGlobals() as GlobalOptions;
    },
    logger(cmd) {
      if (!logger) {
        const level = ctx.globals(cmd).logLevel;
        stacksShown = level === 'debug' || level === 'trace';
        logger = createLogger({ level });
        setRootLogger(logger);
      }
      return logger;
    },
    async loadConfig(cmd) {
      const file = ctx.globals(cmd).config ?? env.TRUEUP_CONFIG;
      if (file) return loadConfigFile(file, env);
      return { file: null, config: EMPTY_CONFIG };
    },
    async withRuntime(cmd, fn, opts) {
      const { config } = await ctx.loadConfig(cmd);
      const rt = await openRuntime({ config, logger: ctx.logger(cmd), env, ...opts });
      try {
        return await fn(rt);
      } finally {
        await rt.close();
      }
    },
  };
  return ctx;
}

/** Maps an error to its exit code and prints it (secrets redacted; the stack only when debugging). */
export function reportError(err: unknown, write: (text: string) => void): number {
  if (err instanceof ConfigError) {
    write(redact(`trueup: config error in ${err.message}\n`));
    return EXIT_USAGE;
  }
  if (err instanceof UsageError) {
    write(redact(`trueup: ${err.message}\n`));
    return EXIT_USAGE;
  }
  const e = err as Error;
  const stack = stacksShown && e instanceof Error && e.stack ? `\n${e.stack}` : '';
  write(redact(`trueup: ${e?.message ?? String(err)}${stack}\n`));
  return EXIT_FAILURE;
}

// What a command needs to run: the frozen config, the root logger, the Postgres server (named
// by URL or embedded) and the staging handle. Opened once per process by the CLI and closed on exit.
import { join, resolve } from 'node:path';
import { openStaging, type Staging } from '../staging/database.js';
import { loadMigrations, migrate } from '../staging/migrate.js';
import {
  connectPostgres,
  defaultDataDir,
  defaultHome,
  type PostgresServer,
} from '../staging/postgres-server.js';
import type { TrueupConfig } from './config/schema.js';
import { resolveRefs } from './config/secrets.js';
import type { Logger } from './log/logger.js';

export interface Runtime {
  config: Readonly<TrueupConfig>;
  logger: Logger;
  server: PostgresServer;
  staging: Staging;
  /** Where runs write reports, mirrors and working files. */
  dataDir: string;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  config: Readonly<TrueupConfig>;
  logger: Logger;
  /** Process environment, read only here at the edge. */
  env: Readonly<Record<string, string | undefined>>;
  /**
   * Pending migrations: 'auto' applies them, 'require' fails naming `trueup migrate`, 'skip'
   * leaves them (the migrate command itself). Default: auto on the embedded cluster, else require.
   */
  migrations?: 'auto' | 'require' | 'skip';
}

export async function openRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const { config, logger, env } = opts;
  // TRUEUP_DATABASE_URL may hold secret references like the config (`${file:/run/secrets/pw}`),
  // so a container can pass the URL without the password in its environment.
  const url = env.TRUEUP_DATABASE_URL
    ? resolveRefs(env.TRUEUP_DATABASE_URL, 'TRUEUP_DATABASE_URL', env)
    : config.staging.url;
  const server = await connectPostgres({
    url,
    embedded: {
      dataDir: config.staging.embedded.dataDir ?? defaultDataDir(env as NodeJS.ProcessEnv),
      ...(config.staging.embedded.port ? { port: config.staging.embedded.port } : {}),
      log: (line) => logger.debug({ component: 'embedded-postgres' }, line),
    },
  });
  const staging = openStaging(server.url, { max: config.staging.poolSize });
  try {
    const policy = opts.migrations ?? (server.embedded ? 'auto' : 'require');
    const pending = policy === 'skip' ? [] : await pendingMigrations(staging);
    if (pending.length) {
      if (policy === 'auto') {
        const res = await migrate(staging.pool);
        if (res.applied.length) logger.info({ applied: res.applied }, 'applied migrations');
      } else {
        throw new Error(
          `the staging database has ${pending.length} pending migration(s) (${pending.join(', ')}): run \`trueup migrate\` first`,
        );
      }
    }
  } catch (err) {
    await staging.close();
    await server.release();
    throw err;
  }
  const dataDir = resolve(config.dataDir ?? join(defaultHome(env as NodeJS.ProcessEnv), 'data'));
  return {
    config,
    logger,
    server,
    staging,
    dataDir,
    async close() {
      await staging.close();
      await server.release();
    },
  };
}

async function pendingMigrations(staging: Staging): Promise<string[]> {
  const all = await loadMigrations();
  const exists = await staging.pool.query(
    `SELECT to_regclass('trueup_meta.migrations') IS NOT NULL AS present`,
  );
  if (!exists.rows[0]?.present) return all.map((m) => m.name);
  const { rows } = await staging.pool.query<{ id: number }>('SELECT id FROM trueup_meta.migrations');
  const done = new Set(rows.map((r) => r.id));
  return all.filter((m) => !done.has(m.id)).map((m) => m.name);
}

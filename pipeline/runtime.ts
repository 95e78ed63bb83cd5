// What a command needs to run: the frozen config, the root logger, the Postgres server (named
// by URL or embedded) and the staging handle. Opened once per process by the CLI and closed on exit.
// Also the process's shutdown: SIGINT/SIGTERM (turned into a request by the CLI entry point) abort
// the signal a command observes; it stops reading, commits and acknowledges what it holds, and the
// runtime then closes (stopping the embedded cluster if this process started it).
import { join, resolve } from 'node:path';
import { openStaging, type Staging } from '../staging/database.js';
import { loadMigrations, migrate } from '../staging/migrate.js';
import type { TrueupConfig } from './config/schema.js';
import { resolveRefs } from './config/secrets.js';
import {
  connectPostgres,
  defaultDataDir,
  defaultHome,
  type PostgresServer,
} from './embedded/postgres-server.js';
import type { Logger } from './log/logger.js';

/**
 * The process-wide shutdown request. A command that can stop cleanly takes `observe()` and stops
 * when it aborts; the entry point asks `request()` on a signal, and stops the process at once
 * (after `cleanup()`) when no command observes or the command takes too long.
 */
export class Shutdown {
  private controller = new AbortController();
  private observers = 0;
  private readonly cleanups = new Set<() => Promise<void>>();

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The signal a command stops on; `done()` when it no longer listens. */
  observe(): { signal: AbortSignal; done: () => void } {
    this.observers++;
    let done = false;
    return {
      signal: this.controller.signal,
      done: () => {
        if (!done) this.observers--;
        done = true;
      },
    };
  }

  /** Aborts the signal; true when a command observes it (it will stop on its own). */
  request(reason: string): boolean {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
    return this.observers > 0;
  }

  /** Something to close if the process must end before its command finished (an open runtime). */
  onForcedExit(cleanup: () => Promise<void>): () => void {
    this.cleanups.add(cleanup);
    return () => this.cleanups.delete(cleanup);
  }

  /** Runs the registered cleanups, at most `timeoutMs` in all. */
  async cleanup(timeoutMs: number): Promise<void> {
    const all = Promise.allSettled([...this.cleanups].map((c) => c()));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** Tests: a fresh, unrequested state. */
  reset(): void {
    this.controller = new AbortController();
    this.observers = 0;
    this.cleanups.clear();
  }
}

export const shutdown = new Shutdown();

export interface Runtime {
  config: Readonly<TrueupConfig>;
  logger: Logger;
  server: PostgresServer;
  staging: Staging;
  /** Where runs write reports, mirrors and working files. */
  dataDir: string;
  /**
   * Aborts on SIGINT/SIGTERM. A command that takes it promises to stop soon after: stop reading,
   * commit and acknowledge what it holds, release its claims. A command that never takes it is
   * ended at once by a signal (its open transactions roll back).
   */
  stopSignal(): AbortSignal;
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
  const observed: (() => void)[] = [];
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      forget();
      for (const done of observed) done();
      try {
        await staging.close();
      } finally {
        await server.release();
      }
    })();
    return closing;
  };
  // Ending at once (a second signal, an overdue stop, a crash): a pool still lending a client
  // would hold its close up, so it gets a few seconds, then the cluster is released anyway.
  const forget = shutdown.onForcedExit(async () => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([close(), new Promise((r) => (timer = setTimeout(r, 3000)))]);
    clearTimeout(timer);
    await server.release();
  });
  return {
    config,
    logger,
    server,
    staging,
    dataDir,
    stopSignal() {
      const o = shutdown.observe();
      observed.push(o.done);
      return o.signal;
    },
    close,
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

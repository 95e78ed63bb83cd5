// Helpers for the postgres connector tests: a source database on the test cluster (beside the
// staging database), configs built through the real schema, and a silent logger.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import {
  type PostgresSystemConfig,
  postgresSystemConfig,
} from '../../pipeline/connectors/postgres/config.js';
import type { SourceState } from '../../pipeline/connectors/postgres/source-machine.js';
import {
  type RunSourceOptions,
  runSource,
  type SourceOutcome,
} from '../../pipeline/connectors/postgres/sync-source.js';
import { withDatabase } from '../../pipeline/embedded/postgres-server.js';

export { until } from './wait.js';

import { createLogger } from '../../pipeline/log/logger.js';
import type { Staging } from '../../staging/database.js';
import { packageRoot } from '../../staging/package-root.js';
import { serverUrl } from './database.js';

export const quietLogger = () =>
  createLogger({
    level: process.env.TRUEUP_TEST_LOG ?? 'silent',
    pretty: false,
    destination: process.stderr,
  });

export interface SourceDb {
  name: string;
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

export async function createSourceDatabase(adminUrl: string, fixture?: 'odoo' | 'twenty'): Promise<SourceDb> {
  const name = `src_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = withDatabase(adminUrl, name);
  const pool = new pg.Pool({ connectionString: url, max: 6 });
  pool.on('error', () => {});
  if (fixture)
    await pool.query(
      await readFile(join(import.meta.dirname, '../fixtures/postgres', `${fixture}.sql`), 'utf8'),
    );
  return {
    name,
    url,
    pool,
    async drop() {
      await pool.end();
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      // A database with a logical slot cannot be dropped: end its readers, drop its slots first.
      for (let i = 0; i < 50; i++) {
        await c.query(
          'SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active',
          [name],
        );
        const res = await c
          .query(
            'SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots WHERE database = $1 AND NOT active',
            [name],
          )
          .catch(() => ({ rows: [] }));
        const left = await c.query('SELECT 1 FROM pg_replication_slots WHERE database = $1', [name]);
        if (!left.rows.length) break;
        void res;
        await new Promise((r) => setTimeout(r, 100));
      }
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/**
 * The test file's source database beside its staging one, made in a `beforeAll` and dropped in
 * an `afterAll` (slots and all); like useTestDatabase, read it inside tests and hooks only.
 */
export function useSourceDatabase(fixture?: 'odoo' | 'twenty'): SourceDb {
  let db: SourceDb | undefined;
  beforeAll(async () => {
    db = await createSourceDatabase(serverUrl(), fixture);
  });
  afterAll(async () => {
    await db?.drop();
    db = undefined;
  });
  const current = (): SourceDb => {
    if (!db) throw new Error('useSourceDatabase: read the source database inside a test or hook, not before');
    return db;
  };
  return {
    get name() {
      return current().name;
    },
    get url() {
      return current().url;
    },
    get pool() {
      return current().pool;
    },
    drop: () => current().drop(),
  };
}

export function systemConfig(url: string, raw: Record<string, unknown>): PostgresSystemConfig {
  // Validated as a config file would be (a secret reference), then given the resolved test URL.
  const parsed = postgresSystemConfig.parse({
    kind: 'postgres',
    role: 'erp',
    stream: {
      maxGroupDelayMs: 20,
      backoffMinMs: 50,
      backoffMaxMs: 500,
      heartbeatSeconds: 0.2,
      claimRetryMs: 100,
    },
    ...raw,
    connection: '${env:SOURCE_URL}',
  });
  return { ...parsed, connection: url };
}

export function syncOnce(
  staging: Staging,
  config: PostgresSystemConfig,
  o: { tenant?: string; system?: string; resnapshot?: boolean; entities?: RunSourceOptions['entities'] } = {},
): Promise<SourceOutcome> {
  return runSource({
    ...(o.entities ? { entities: o.entities } : {}),
    tenant: o.tenant ?? 'acme',
    system: o.system ?? 'erp',
    config,
    staging,
    logger: quietLogger(),
    once: true,
    resnapshot: o.resnapshot ?? false,
  });
}

/** A source running until `abort.abort()`, with every state it enters recorded in order. */
export function runRecorded(
  staging: Staging,
  config: PostgresSystemConfig,
  o: { tenant: string; system: string },
): { states: SourceState[]; abort: AbortController; done: Promise<SourceOutcome> } {
  const states: SourceState[] = [];
  const abort = new AbortController();
  const done = runSource({
    ...o,
    config,
    staging,
    logger: quietLogger(),
    once: false,
    signal: abort.signal,
    onState: (m) => {
      if (states.at(-1) !== m.state) states.push(m.state);
    },
  });
  return { states, abort, done };
}

/**
 * The compiled CLI (`npm test` builds it before vitest runs). Tests that run `trueup` as a real
 * process use it rather than bundling the sources themselves; a missing or stale build is a
 * clear failure rather than a test of old code.
 */
export function compiledCli(): string {
  const root = packageRoot();
  const bin = join(root, 'dist/pipeline/cli/bin.js');
  if (!existsSync(bin))
    throw new Error(
      `${relative(root, bin)} is missing: run \`npm run build\` first (\`npm test\` does it before vitest)`,
    );
  // Only the code these tests exercise: other folders may be mid-edit by someone else.
  const sources = [
    ...readdirSync(join(root, 'pipeline/connectors/postgres')).map(
      (f) => `pipeline/connectors/postgres/${f}`,
    ),
    'pipeline/cli/commands/sync.ts',
    'pipeline/cli/commands/status.ts',
    'staging/write-changes.ts',
    'staging/copy-csv.ts',
  ].filter((f) => f.endsWith('.ts'));
  for (const file of sources) {
    const js = join(root, 'dist', file.replace(/\.ts$/, '.js'));
    if (!existsSync(js) || statSync(join(root, file)).mtimeMs > statSync(js).mtimeMs)
      throw new Error(
        `dist/ is older than ${file}: run \`npm run build\` first (\`npm test\` does it before vitest)`,
      );
  }
  return bin;
}

/** Runs the compiled `trueup` CLI with `args`; the environment adds to this process's. */
export function spawnCli(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [compiledCli(), ...args], {
    env: { ...process.env, TRUEUP_CONFIG: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Collects a child's stdout/stderr and resolves with its exit code. */
export async function finished(
  child: ChildProcess,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (c) => resolve(c));
  });
  return { code, stdout, stderr };
}

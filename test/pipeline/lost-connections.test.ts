// A staging connection lost while in use (a restart, a failover, `pg_terminate_backend`) never
// crashes trueup: the operation that used it fails with the error, the pool connects afresh, and
// the work resumes or fails with one clear message, losing nothing. The pool itself, then the
// compiled CLI: `sync --once` of an API source (the HubSpot sandbox) and `reconcile`, each run
// while its staging backends are terminated again and again.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { generatorTenantConfig } from '../../pipeline/generator/ground-truth.js';
import { stageGeneratedTenant } from '../../pipeline/generator/stage-generated.js';
import { inTransaction } from '../../staging/database.js';
import { classifyPgError } from '../../staging/errors.js';
import { serverUrl, useTestDatabase } from '../support/database.js';
import { compiledCli, finished } from '../support/postgres.js';

const db = useTestDatabase('lostconn');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trueup-lostconn-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Ends every client connection of the test database but `except` (the caller's own). */
async function terminate(except: number[] = []): Promise<number> {
  const admin = new pg.Client({ connectionString: serverUrl() });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ n: number }>(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
        WHERE datname = $1 AND pid <> ALL($2::int[]) AND backend_type = 'client backend'`,
      [db.name, except],
    );
    return rows[0]?.n ?? 0;
  } finally {
    await admin.end();
  }
}

/** Terminates the database's connections every `everyMs` until the returned stop is called. */
function terminateRepeatedly(everyMs: number): { stop: () => Promise<number> } {
  let going = true;
  let kills = 0;
  const loop = (async () => {
    while (going) {
      await new Promise((r) => setTimeout(r, everyMs));
      if (going) kills += await terminate();
    }
  })();
  return {
    stop: async () => {
      going = false;
      await loop;
      return kills;
    },
  };
}

describe('the staging pool', () => {
  it('a client lost inside a transaction fails that transaction, not the process', async () => {
    const err = await inTransaction(db.staging.pool, async (client) => {
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await terminate();
      await new Promise((r) => setTimeout(r, 200)); // the 'error' event arrives while checked out
      await client.query('SELECT 1');
      return rows[0]!.pid;
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(classifyPgError(err)).toBe('transient');
    // The broken client left the pool: the next query connects afresh.
    expect((await db.staging.pool.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
  });

  it('a checked-out client idle in a transaction survives its backend being terminated', async () => {
    const client = await db.staging.pool.connect();
    await client.query('BEGIN');
    await terminate();
    await new Promise((r) => setTimeout(r, 200));
    await expect(client.query('SELECT 1')).rejects.toThrow(/not queryable|terminat/i);
    client.release();
    expect((await db.staging.pool.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }]);
  });
});

function cli(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [compiledCli(), ...args], {
    env: { ...process.env, TRUEUP_CONFIG: '', TRUEUP_DATABASE_URL: db.url, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A failure is one clear line on stderr (or the command's report line), never a stack trace. */
function expectNoCrash(res: { code: number | null; stdout: string; stderr: string }): void {
  expect(res.code === 0 || res.code === 1, `exit ${res.code}: ${res.stderr}`).toBe(true);
  expect(res.stderr).not.toMatch(/\n\s+at |uncaught|unhandled/i);
  if (res.code === 1) expect(`${res.stdout}\n${res.stderr}`).toMatch(/failed|trueup: /);
}

/** Every staged row of a tenant, comparable across tenants: entity, id, version, values. */
async function stagedRows(tenant: string): Promise<string[]> {
  const out: string[] = [];
  for (const entity of ['customer', 'product', 'order', 'invoice', 'payment', 'subscription']) {
    const { rows } = await db.staging.pool.query<{ r: string }>(
      `SELECT (to_jsonb(t) - 'tenant_id' - 'staged_seq' - 'staged_at' - 'raw' - 'deleted_at'
                || jsonb_build_object('deleted', deleted_at IS NOT NULL))::text AS r
         FROM staging.${JSON.stringify(entity)} t WHERE tenant_id = $1 ORDER BY source_id`,
      [tenant],
    );
    out.push(...rows.map((x) => `${entity} ${x.r}`));
  }
  return out;
}

describe('the CLI under lost staging connections', () => {
  let sandbox: ChildProcess | undefined;
  afterAll(() => {
    sandbox?.kill('SIGTERM');
  });

  it('sync --once of an API source (HubSpot sandbox): no crash, and a rerun stages exactly what a clean sync does', {
    timeout: 240_000,
  }, async () => {
    sandbox = cli(['sandbox', 'hubspot', '--port', '0', '--records', '150', '--token', 'tok-lost']);
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      sandbox!.stdout!.on('data', (d) => {
        out += d;
        const m = /listening on (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      sandbox!.once('exit', (code) => reject(new Error(`sandbox exited (${code})`)));
    });
    const system = {
      kind: 'hubspot',
      role: 'crm',
      baseUrl: url,
      accessToken: '${env:HS_TOKEN}',
      limits: { maxRetries: 2, timeoutMs: 5000 },
      stageBatchRows: 20,
      listPageSize: 20,
    };
    const configFile = join(dir, 'hubspot.yaml');
    await writeFile(
      configFile,
      stringify({ tenants: { lost: { systems: { crm: system } }, clean: { systems: { crm: system } } } }),
    );
    const sync = (tenant: string) =>
      finished(cli(['sync', '--tenant', tenant, '--once', '-c', configFile], { HS_TOKEN: 'tok-lost' }));
    const clean = await sync('clean');
    expect(clean.code, clean.stderr).toBe(0);
    const killer = terminateRepeatedly(60);
    const lost = await sync('lost');
    expect(await killer.stop()).toBeGreaterThan(0);
    expectNoCrash(lost);
    const rerun = await sync('lost');
    expect(rerun.code, rerun.stderr).toBe(0);
    const want = await stagedRows('clean');
    expect(want.length).toBeGreaterThan(150);
    expect(await stagedRows('lost')).toEqual(want);
  });

  it('reconcile: no crash, and a rerun finds exactly the discrepancies of an undisturbed run', {
    timeout: 240_000,
  }, async () => {
    const counts = { customer: 150, product: 0, order: 0, invoice: 150, payment: 0, subscription: 0 };
    for (const tenant of ['quiet', 'noisy'])
      await stageGeneratedTenant(
        db.staging.pool,
        { tenant, seed: 11, counts },
        { entities: ['customer', 'invoice'] },
      );
    const configFile = join(dir, 'reconcile.yaml');
    await writeFile(
      configFile,
      stringify({
        dataDir: join(dir, 'data'),
        tenants: {
          quiet: generatorTenantConfig({ tenant: 'quiet' }),
          noisy: generatorTenantConfig({ tenant: 'noisy' }),
        },
      }),
    );
    const reconcile = (tenant: string) =>
      finished(
        cli([
          ...['reconcile', '--tenant', tenant, '--entity', 'customer', 'invoice'],
          ...['--confirm-wait', '0', '-c', configFile, '--log-level', 'warn'],
        ]),
      );
    const quiet = await reconcile('quiet');
    expect(quiet.code, quiet.stderr).toBe(0);
    const killer = terminateRepeatedly(150);
    const noisy = await reconcile('noisy');
    expect(await killer.stop()).toBeGreaterThan(0);
    expectNoCrash(noisy);
    const rerun = await reconcile('noisy');
    expect(rerun.code, rerun.stderr).toBe(0);
    const open = async (tenant: string) =>
      (
        await db.staging.pool.query<{ d: string }>(
          `SELECT entity || ' ' || match_key || ' ' || class || ' ' || field AS d
             FROM control.discrepancies WHERE tenant_id = $1 AND status = 'open' ORDER BY 1`,
          [tenant],
        )
      ).rows.map((r) => r.d);
    const want = await open('quiet');
    expect(want.length).toBeGreaterThan(0);
    expect(await open('noisy')).toEqual(want);
  });
});

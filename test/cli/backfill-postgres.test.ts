// `trueup backfill --where` / `--table` on a postgres system, in-process: a predicate narrows a
// window or a whole-table re-read, cannot stack a second statement, and is a usage error (exit 2)
// for an API kind.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCliCaptured } from '../support/cli.js';
import { useTestDatabase } from '../support/database.js';
import { useSourceDatabase } from '../support/postgres.js';

const db = useTestDatabase('bfpgcli');
const src = useSourceDatabase();
let dir: string;
let configFile: string;
const cli = (args: string[]) =>
  runCliCaptured(['backfill', '--tenant', 'pg', '--entity', 'customer', ...args, '--no-reconcile'], {
    databaseUrl: db.url,
    config: configFile,
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trueup-backfill-pg-'));
  await writeFile(join(dir, 'source-url'), `${src.url}\n`);
  await writeFile(join(dir, 'token'), 'not-a-real-token\n');
  await src.pool.query(`CREATE TABLE items (id int PRIMARY KEY, name text, region text,
      updated timestamptz NOT NULL);
    INSERT INTO items SELECT g, 'n' || g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END,
      timestamptz '2024-01-01' + g * interval '1 day' FROM generate_series(1, 20) g;`);
  configFile = join(dir, 'trueup.yaml');
  await writeFile(
    configFile,
    stringify({
      dataDir: join(dir, 'data'),
      tenants: {
        pg: {
          systems: {
            erp: {
              kind: 'postgres',
              role: 'erp',
              connection: `\${file:${join(dir, 'source-url')}}`,
              tables: [
                {
                  table: 'items',
                  entity: 'customer',
                  key: ['id'],
                  fields: { name: 'name' },
                  updatedAt: 'updated',
                },
              ],
            },
            crm: {
              kind: 'hubspot',
              role: 'crm',
              baseUrl: 'http://127.0.0.1:9',
              accessToken: `\${file:${join(dir, 'token')}}`,
              objects: ['companies'],
            },
          },
        },
      },
    }),
  );
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const staged = async () =>
  (
    await db.staging.pool.query(
      `SELECT source_id FROM staging.customer WHERE tenant_id = 'pg' AND system = 'erp' AND deleted_at IS NULL
        ORDER BY source_id::int`,
    )
  ).rows.map((r) => Number(r.source_id));

describe('trueup backfill --where (postgres)', () => {
  it('re-reads the rows of a window that match the predicate, then a whole table narrowed by it', async () => {
    const w = await cli([
      '--system',
      'erp',
      '--since',
      '2024-01-05',
      '--until',
      '2024-01-11',
      '--where',
      "t.region = 'eu'",
    ]);
    expect(w.code, w.err + w.out).toBe(0);
    // Days 5…10 are ids 4…9 (updated = 2024-01-01 + id days); the even ones are eu.
    expect(await staged()).toEqual([4, 6, 8]);
    expect(w.out).toMatch(/erp\s+postgres\s+customer\s+completed\s+3\s+3\s+0\s+0/);

    const all = await cli(['--system', 'erp', '--where', "region = 'us' AND id > 15"]);
    expect(all.code, all.err + all.out).toBe(0);
    expect(await staged()).toEqual([4, 6, 8, 17, 19]);

    // --table alone: every row of it; rows a predicate left out come in now.
    const table = await cli(['--system', 'erp', '--table', 'items']);
    expect(table.code, table.err + table.out).toBe(0);
    expect(await staged()).toEqual(Array.from({ length: 20 }, (_v, i) => i + 1));
  }, 60_000);

  it('cannot stack a second statement; a bad predicate fails the re-read naming it (exit 1)', async () => {
    const r = await cli([
      '--system',
      'erp',
      '--since',
      '2024-01-01',
      '--where',
      'true); DROP TABLE items; SELECT (1',
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAILED erp: .*--where "true\); DROP TABLE items; SELECT \(1"/);
    expect((await src.pool.query('SELECT count(*)::int AS n FROM items')).rows[0].n).toBe(20);

    const bad = await cli(['--system', 'erp', '--ids', '1', '--where', 't.no_such_column = 1']);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/FAILED erp: .*no_such_column/);
  }, 60_000);

  it('--where and --table are usage errors for an API kind, named (exit 2)', async () => {
    const named = await cli(['--system', 'crm', '--ids', '1', '--where', 'true']);
    expect(named.code).toBe(2);
    expect(named.err).toMatch(/--where applies to postgres systems only; system crm of tenant pg is hubspot/);
    const all = await cli(['--since', '2024-01-01', '--where', 'true']);
    expect(all.code).toBe(2);
    expect(all.err).toMatch(/system crm of tenant pg is hubspot \(name a postgres system with --system\)/);
    const table = await cli(['--system', 'crm', '--table', 'items']);
    expect(table.code).toBe(2);
    expect(table.err).toMatch(/--table applies to postgres systems only; system crm .* is hubspot/);
    const none = await cli(['--system', 'erp']);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/give a window .* or --ids/);
  }, 60_000);
});

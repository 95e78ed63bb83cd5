// `trueup backfill` in-process against a test database: CSV systems re-read by ids and by a
// window, per-system lines, the reconcile line after, and the exit codes (1 for a failed re-read,
// 2 for usage errors).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { listCheckpoints } from '../../staging/checkpoints.js';
import { runCliCaptured } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
let dir: string;
let configFile: string;
const cli = (args: string[]) => runCliCaptured(args, { databaseUrl: db.url, config: configFile });

beforeAll(async () => {
  db = await createTestDatabase('bfcli');
  dir = await mkdtemp(join(tmpdir(), 'trueup-backfill-'));
  for (const side of ['erp', 'crm']) await mkdir(join(dir, side, 'bf', 'customer'), { recursive: true });
  await writeFile(
    join(dir, 'erp', 'bf', 'customer', 'a.csv'),
    'id,name,modified\nR1,One,2024-01-01T00:00:00Z\nR2,Two,2024-02-01T00:00:00Z\nR3,Three,2024-03-01T00:00:00Z\n',
  );
  await writeFile(
    join(dir, 'crm', 'bf', 'customer', 'a.csv'),
    'id,name,erp_ref,modified\nC1,One,R1,2024-01-01T00:00:00Z\nC2,Two,R2,2024-02-20T00:00:00Z\n',
  );
  await writeFile(join(dir, 'token'), 'not-a-real-token\n');
  const csv = (role: string, side: string, tenant = '{tenant}') => ({
    kind: 'csv',
    role,
    dropDir: join(dir, side, tenant),
    entities: { customer: { versionColumn: 'modified' } },
  });
  configFile = join(dir, 'trueup.yaml');
  await writeFile(
    configFile,
    stringify({
      dataDir: join(dir, 'data'),
      tenants: {
        bf: { systems: { erp: csv('erp', 'erp'), crm: csv('crm', 'crm') } },
        broken: {
          systems: {
            erp: csv('erp', 'erp', 'bf'),
            // Nothing listens on port 9: its re-read fails.
            hub: {
              kind: 'hubspot',
              role: 'crm',
              baseUrl: 'http://127.0.0.1:9',
              accessToken: `\${file:${join(dir, 'token')}}`,
              objects: ['companies'],
              limits: { maxRetries: 0, timeoutMs: 2_000 },
            },
          },
        },
      },
    }),
  );
  expect((await cli(['sync', '--tenant', 'bf', '--once'])).code).toBe(0);
}, 60_000);
afterAll(async () => {
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

const names = async () =>
  (
    await db.staging.pool.query(
      `SELECT source_id || ':' || name AS r FROM staging.customer WHERE tenant_id = 'bf' AND system = 'erp' ORDER BY 1`,
    )
  ).rows.map((r) => r.r as string);

describe('trueup backfill', () => {
  it('re-reads the given ids of one system, moves no checkpoint and reconciles the entity', async () => {
    const before = await listCheckpoints(db.staging.db, 'bf');
    await db.staging.pool.query(
      `UPDATE staging.customer SET name = 'drifted', version = version - 1 WHERE tenant_id = 'bf' AND system = 'erp'`,
    );
    const r = await cli([
      'backfill',
      '--tenant',
      'bf',
      '--entity',
      'customer',
      '--system',
      'erp',
      '--ids',
      'R2, R3',
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/erp\s+csv\s+customer\s+completed\s+2\s+2\s+0\s+0/);
    expect(r.out).not.toMatch(/\bcrm\b.*completed/);
    expect(r.out).toMatch(/reconcile bf customer: run \S+ \w+ — \d+ discrepancies \(\d+ material\)/);
    expect(await names()).toEqual(['R1:drifted', 'R2:Two', 'R3:Three']);
    expect(await listCheckpoints(db.staging.db, 'bf')).toEqual(before);
  }, 60_000);

  it('without --system, re-reads a window from every system that has the entity', async () => {
    const r = await cli([
      'backfill',
      '--tenant',
      'bf',
      '--entity',
      'customer',
      '--since',
      '2024-01-15',
      '--no-reconcile',
    ]);
    expect(r.code, r.err).toBe(0);
    // erp: R2 and R3 are in the window (both already restored: unchanged); crm: C2.
    expect(r.out).toMatch(/erp\s+csv\s+customer\s+completed\s+2\s+0\s+2\s+0/);
    expect(r.out).toMatch(/crm\s+csv\s+customer\s+completed\s+1\s+0\s+1\s+0/);
    expect(r.out).not.toMatch(/reconcile bf/);
  }, 60_000);

  it('exits 1 when a re-read fails, after staging the others', async () => {
    const r = await cli([
      'backfill',
      '--tenant',
      'broken',
      '--entity',
      'customer',
      '--ids',
      'R1',
      '--no-reconcile',
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/erp\s+csv\s+customer\s+completed\s+1/);
    expect(r.out).toMatch(/FAILED hub: /);
  }, 60_000);

  it('exits 2 on usage errors', async () => {
    const usage = async (args: string[], message: RegExp) => {
      const r = await cli(['backfill', '--tenant', 'bf', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
    };
    await usage(['--entity', 'customer', '--since', 'last tuesday'], /--since "last tuesday" is not a date/);
    await usage(['--entity', 'customer'], /give a window .* or --ids/);
    await usage(['--entity', 'customer', '--since', '2024-01-01', '--ids', 'R1'], /not both/);
    await usage(['--entity', 'customer', '--until', '2024-01-01'], /--until needs --since/);
    await usage(['--entity', 'customer', '--since', '2024-02-01', '--until', '2024-01-01'], /is not before/);
    await usage(['--entity', 'widget', '--ids', 'R1'], /unknown entity "widget"/);
    await usage(['--entity', 'customer', '--system', 'nope', '--ids', 'R1'], /has no system named "nope"/);
    await usage(
      ['--entity', 'product', '--system', 'erp', '--ids', 'R1'],
      /system erp of tenant bf has no product/,
    );
  });
});

// Review: an unknown --tenant is a usage error (exit 2) in every command, the dead-letter
// commands included (a typo must not read as "nothing to show" or "discarded 0").
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { dataDir, removeDataDirs } from '../reconcilers/helpers.js';
import { runCliCaptured } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
let configFile: string;

beforeAll(async () => {
  db = await createTestDatabase('review_tenant');
  const dir = await dataDir();
  configFile = join(dir, 'trueup.yaml');
  const systems = {
    crm: { kind: 'csv', role: 'crm', dropDir: '/tmp/x/crm' },
    erp: { kind: 'csv', role: 'erp', dropDir: '/tmp/x/erp' },
  };
  await writeFile(configFile, stringify({ dataDir: dir, tenants: { acme: { systems } } }));
});
afterAll(async () => {
  await removeDataDirs();
  await db?.drop();
});

const cli = (args: string[]) => runCliCaptured(args, { databaseUrl: db.url, config: configFile });

it('dlq list, replay and discard refuse an unknown --tenant with exit 2', async () => {
  for (const args of [
    ['dlq', 'list', '--tenant', 'nope'],
    ['dlq', 'replay', '--tenant', 'nope'],
    ['dlq', 'discard', '--tenant', 'nope', '1'],
  ]) {
    const r = await cli(args);
    expect({ args, code: r.code, out: r.out }).toEqual({ args, code: 2, out: '' });
    expect(r.err).toContain("unknown tenant 'nope' (configured: acme)");
  }
  expect((await cli(['dlq', 'list', '--tenant', 'acme'])).code).toBe(0);
  expect((await cli(['dlq', 'list'])).code).toBe(0);
});

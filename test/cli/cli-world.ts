// The world of a CLI test: a migrated test database, a data folder with a trueup.yaml naming the
// given tenants (CSV systems crm and erp, plus `extra` config per tenant), the CLI run in-process
// against them, and a full reconcile of customers for a tenant. Call at a test file's top level
// (it registers beforeAll / afterAll).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { stringify } from 'yaml';
import { csvTenantConfig, dataDir, reconcile, removeDataDirs } from '../reconcilers/helpers.js';
import { runCliCaptured } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

export const SYSTEMS = {
  crm: { kind: 'csv', role: 'crm', dropDir: '/tmp/x/crm' },
  erp: { kind: 'csv', role: 'erp', dropDir: '/tmp/x/erp' },
};

export function cliWorld(name: string, tenants: readonly string[], extra: Record<string, unknown> = {}) {
  const world = {
    db: undefined as unknown as TestDatabase,
    dir: '',
    configFile: '',
    cli: (args: string[]) => runCliCaptured(args, { databaseUrl: world.db.url, config: world.configFile }),
    /** A full reconcile of the tenant's customers, with the same config the CLI reads. */
    run: async (tenant: string) => {
      const s = await reconcile(world.db, world.dir, tenant, csvTenantConfig(tenant, extra), {
        entities: ['customer'],
        mode: 'full',
      });
      expect(s.errors).toEqual([]);
      return s;
    },
  };
  beforeAll(async () => {
    world.db = await createTestDatabase(name);
    world.dir = await dataDir();
    world.configFile = join(world.dir, 'trueup.yaml');
    await writeFile(
      world.configFile,
      stringify({
        dataDir: world.dir,
        tenants: Object.fromEntries(tenants.map((t) => [t, { systems: SYSTEMS, ...extra }])),
      }),
    );
  });
  afterAll(async () => {
    await removeDataDirs();
    await world.db?.drop();
  });
  return world;
}

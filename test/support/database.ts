// Per-test-file databases on the shared test cluster: a clone of the migrated template, so
// tests are isolated from each other and start from an empty, migrated staging schema.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { openStaging, type Staging } from '../../staging/database.js';
import { withDatabase } from '../../staging/postgres-server.js';

export interface TestDatabase {
  name: string;
  url: string;
  staging: Staging;
  drop(): Promise<void>;
}

export function serverUrl(): string {
  return inject('pgUrl');
}

/** A fresh migrated database (clone of the template) with its own pool. */
export async function createTestDatabase(prefix = 't'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl() });
  await admin.connect();
  try {
    // Cloning needs the template idle; retry briefly if another file is cloning at the same moment.
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${name} TEMPLATE ${inject('pgTemplate')}`);
        break;
      } catch (err) {
        if (attempt > 50 || !/being accessed by other users/.test((err as Error).message)) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await admin.end();
  }
  const url = withDatabase(serverUrl(), name);
  const staging = openStaging(url, { max: 8 });
  return {
    name,
    url,
    staging,
    async drop() {
      await staging.close();
      const c = new pg.Client({ connectionString: serverUrl() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

// Per-test-file databases on the shared test cluster: a clone of the migrated template, so
// tests are isolated from each other and start from an empty, migrated staging schema.
// `useTestDatabase()` is the usual way in: it owns the beforeAll/afterAll pair of a test file.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { withDatabase } from '../../pipeline/embedded/postgres-server.js';
import { openStaging, type Staging } from '../../staging/database.js';

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

/**
 * The test file's own database, created in a `beforeAll` and dropped in an `afterAll` (hooks of
 * the file or describe block it is called in). The handle can be taken at module level and
 * read inside tests and later hooks; reading it before the `beforeAll` has run is an error.
 * Hooks registered after it run after it, and their `afterAll`s before the drop (vitest runs
 * `afterAll`s in reverse order), so a file can close its sandboxes before the database goes.
 */
export function useTestDatabase(prefix = 't'): TestDatabase {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase(prefix);
  });
  afterAll(async () => {
    await db?.drop();
    db = undefined;
  });
  const current = (): TestDatabase => {
    if (!db)
      throw new Error(`useTestDatabase('${prefix}'): read the database inside a test or hook, not before`);
    return db;
  };
  return {
    get name() {
      return current().name;
    },
    get url() {
      return current().url;
    },
    get staging() {
      return current().staging;
    },
    drop: () => current().drop(),
  };
}

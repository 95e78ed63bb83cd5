// Starts one embedded Postgres cluster (wal_level=logical) for the whole test run through the
// same module the CLI uses, migrates a template database, and hands the URL to the tests.
// Each test file clones the template into its own database (see test/support/database.ts).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { type PostgresServer, startEmbedded } from '../../pipeline/embedded/postgres-server.js';
import { migrate } from '../../staging/migrate.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
    pgTemplate: string;
  }
}

export const TEMPLATE_DB = 'trueup_template';

let server: PostgresServer | undefined;
let folder: string | undefined;

export default async function setup(project: TestProject) {
  const external = process.env.TRUEUP_TEST_DATABASE_URL;
  if (external) {
    server = {
      url: external,
      embedded: false,
      urlFor: (db) => withDb(external, db),
      release: async () => {},
    };
  } else {
    folder = await mkdtemp(join(tmpdir(), 'trueup-test-'));
    server = await startEmbedded({ dataDir: join(folder, 'pg') });
  }
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${TEMPLATE_DB}`);
  await admin.end();
  const pool = new pg.Pool({ connectionString: server.urlFor(TEMPLATE_DB), max: 2 });
  await migrate(pool);
  await pool.end();
  project.provide('pgUrl', server.url);
  project.provide('pgTemplate', TEMPLATE_DB);
  return async () => {
    await server?.release();
    if (folder) await rm(folder, { recursive: true, force: true });
  };
}

function withDb(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

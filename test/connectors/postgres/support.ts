// Helpers for the postgres connector tests: a source database on the test cluster (beside the
// staging database), configs built through the real schema, and a silent logger.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import {
  type PostgresSystemConfig,
  postgresSystemConfig,
} from '../../../pipeline/connectors/postgres/config.js';
import { runSource, type SourceOutcome } from '../../../pipeline/connectors/postgres/sync-source.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import type { Staging } from '../../../staging/database.js';
import { withDatabase } from '../../../staging/postgres-server.js';

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
      await readFile(join(import.meta.dirname, '../../fixtures/postgres', `${fixture}.sql`), 'utf8'),
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

export function systemConfig(url: string, raw: Record<string, unknown>): PostgresSystemConfig {
  // Validated as a config file would be (a secret reference), then given the resolved test URL.
  const parsed = postgresSystemConfig.parse({
    kind: 'postgres',
    role: 'erp',
    stream: { maxGroupDelayMs: 20, backoffMinMs: 50, backoffMaxMs: 500, heartbeatSeconds: 0.2 },
    ...raw,
    connection: '${env:SOURCE_URL}',
  });
  return { ...parsed, connection: url };
}

export function syncOnce(
  staging: Staging,
  config: PostgresSystemConfig,
  o: { tenant?: string; system?: string; resnapshot?: boolean } = {},
): Promise<SourceOutcome> {
  return runSource({
    tenant: o.tenant ?? 'acme',
    system: o.system ?? 'erp',
    config,
    staging,
    logger: quietLogger(),
    once: true,
    resnapshot: o.resnapshot ?? false,
  });
}

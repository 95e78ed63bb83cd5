import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withDatabase } from '../../pipeline/embedded/postgres-server.js';
import { openStaging, type Staging } from '../../staging/database.js';
import { loadMigrations, migrate } from '../../staging/migrate.js';
import { ENTITIES, ENTITY_FIELDS } from '../../staging/model/entities.js';
import { serverUrl } from '../support/database.js';

const name = `mig_${Math.random().toString(36).slice(2, 8)}`;
let staging: Staging;
let other: Staging;

beforeAll(async () => {
  const admin = new pg.Client({ connectionString: serverUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  staging = openStaging(withDatabase(serverUrl(), name));
  other = openStaging(withDatabase(serverUrl(), name));
});

afterAll(async () => {
  await staging.close();
  await other.close();
  const admin = new pg.Client({ connectionString: serverUrl() });
  await admin.connect();
  await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
  await admin.end();
});

describe('migrate', () => {
  it('applies each migration once even when two processes migrate at the same time', async () => {
    const all = await loadMigrations();
    const [a, b] = await Promise.all([migrate(staging.pool), migrate(other.pool)]);
    expect([...a.applied, ...b.applied].sort()).toEqual(all.map((m) => m.name).sort());
    const again = await migrate(staging.pool);
    expect(again).toEqual({ applied: [], alreadyApplied: all.length });
  });

  it('refuses a migration that was edited after it was applied', async () => {
    const all = await loadMigrations();
    const edited = all.map((m, i) => (i === 0 ? { ...m, checksum: 'changed' } : m));
    await expect(migrate(staging.pool, { migrations: edited })).rejects.toThrow(
      /was changed after it was applied/,
    );
  });

  it('creates staging tables whose columns are exactly the canonical model', async () => {
    const common = [
      'tenant_id',
      'system',
      'source_id',
      'raw',
      'version',
      'source_updated_at',
      'deleted_at',
      'mapping_version',
      'staged_seq',
      'staged_at',
    ];
    for (const entity of ENTITIES) {
      const res = await staging.pool.query(
        `SELECT column_name FROM information_schema.columns WHERE table_schema = 'staging' AND table_name = $1`,
        [entity],
      );
      const columns = res.rows.map((r) => r.column_name).sort();
      expect(columns, entity).toEqual([...common, ...ENTITY_FIELDS[entity].map((f) => f.name)].sort());
    }
  });
});

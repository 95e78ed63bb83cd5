// Row-level security: a connection of a role scoped to one tenant cannot read or write another
// tenant's rows, in staging or in the control tables.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withDatabase } from '../../pipeline/embedded/postgres-server.js';
import { loadMigrations, migrate } from '../../staging/migrate.js';
import { stageUnit } from '../../staging/stage.js';
import { createTenantRole } from '../../staging/tenants.js';
import { serverUrl, useTestDatabase } from '../support/database.js';

const t = useTestDatabase('rls');
let scoped: pg.Client;
const role = `acme_reader_${Math.random().toString(36).slice(2, 8)}`;

beforeAll(async () => {
  for (const tenant of ['acme', 'globex']) {
    await stageUnit(t.staging.pool, {
      tenant,
      system: 'crm',
      batches: [
        {
          entity: 'customer',
          changes: [{ sourceId: `${tenant}-1`, version: 1n, op: 'upsert', fields: { name: tenant } }],
        },
      ],
      checkpoints: [{ stream: 'accounts', position: { at: tenant } }],
    });
    await t.staging.pool.query(
      `INSERT INTO control.dead_letters (tenant_id, system, entity, record, error_kind, error_message, fingerprint)
       VALUES ($1, 'crm', 'customer', '{}', 'invalid_record', 'bad', $1)`,
      [tenant],
    );
  }
  await createTenantRole(t.staging.pool, role, 'pw-scoped-1', 'acme');
  const url = new URL(withDatabase(t.url, t.name));
  url.username = role;
  url.password = 'pw-scoped-1';
  scoped = new pg.Client({ connectionString: url.toString() });
  await scoped.connect();
});

afterAll(async () => {
  await scoped?.end();
  await t.staging.pool.query(`DROP OWNED BY ${role}`);
  const admin = new pg.Client({ connectionString: serverUrl() });
  await admin.connect();
  await admin.query(`DROP ROLE IF EXISTS ${role}`);
  await admin.end();
});

describe('tenant isolation', () => {
  it('shows a scoped role only its tenant in staging and control tables', async () => {
    expect((await scoped.query('SELECT tenant_id FROM staging.customer')).rows).toEqual([
      { tenant_id: 'acme' },
    ]);
    expect((await scoped.query('SELECT tenant_id FROM control.checkpoints')).rows).toEqual([
      { tenant_id: 'acme' },
    ]);
    expect((await scoped.query('SELECT tenant_id FROM control.dead_letters')).rows).toEqual([
      { tenant_id: 'acme' },
    ]);
    // Asking for the other tenant explicitly returns nothing.
    expect((await scoped.query(`SELECT * FROM staging.customer WHERE tenant_id = 'globex'`)).rowCount).toBe(
      0,
    );
  });

  it('refuses writes into another tenant and cannot widen its own scope', async () => {
    await expect(
      scoped.query(
        `INSERT INTO staging.customer (tenant_id, system, source_id, version, staged_seq) VALUES ('globex', 'crm', 'x', 1, 1)`,
      ),
    ).rejects.toThrow(/row-level security/);
    expect(
      (await scoped.query(`UPDATE staging.customer SET name = 'hacked' WHERE tenant_id = 'globex'`)).rowCount,
    ).toBe(0);
    await expect(
      scoped.query(`INSERT INTO control.tenant_roles VALUES (current_user, 'globex')`),
    ).rejects.toThrow(/permission denied/);
    const admin = await t.staging.pool.query(`SELECT name FROM staging.customer WHERE tenant_id = 'globex'`);
    expect(admin.rows).toEqual([{ name: 'globex' }]);
  });
});

describe('what a scoped role can learn about other tenants', () => {
  it('cannot read the tenants or roles of another role through control.tenants_of', async () => {
    const other = `globex_reader_${Math.random().toString(36).slice(2, 8)}`;
    await t.staging.pool.query('INSERT INTO control.tenant_roles (role_name, tenant_id) VALUES ($1, $2)', [
      other,
      'globex',
    ]);
    const { rows } = await scoped.query('SELECT control.tenants_of($1) AS tenants', [other]);
    expect(rows).toEqual([{ tenants: [] }]);
    // Its own scope still resolves, and the owner role still sees every scope.
    expect((await scoped.query('SELECT control.tenants_of(current_user) AS t')).rows).toEqual([
      { t: ['acme'] },
    ]);
    const owner = await t.staging.pool.query('SELECT control.tenants_of($1) AS t', [other]);
    expect(owner.rows).toEqual([{ t: ['globex'] }]);
    // control.tenant_roles shows the scoped role its own rows only, and stays read-only.
    const seen = await scoped.query('SELECT role_name, tenant_id FROM control.tenant_roles');
    expect(seen.rows).toEqual([{ role_name: role, tenant_id: 'acme' }]);
    await expect(
      scoped.query(`UPDATE control.tenant_roles SET tenant_id = 'globex' WHERE role_name = current_user`),
    ).rejects.toThrow(/permission denied/);
    await expect(scoped.query(`DELETE FROM control.tenant_roles`)).rejects.toThrow(/permission denied/);
  });

  it('sees only its tenant in entity runs and in the view discrepancies_now', async () => {
    for (const tenant of ['acme', 'globex']) {
      await t.staging.pool.query(
        `INSERT INTO control.entity_runs (tenant_id, entity, run_no, run_id) VALUES ($1, 'customer', 1, $1 || '-r1')`,
        [tenant],
      );
      await t.staging.pool.query(
        `INSERT INTO control.discrepancies (tenant_id, entity, match_key, class, first_seen_run, last_seen_run)
         VALUES ($1, 'customer', 'k', 'missing_in_erp', $1 || '-r1', $1 || '-r1')`,
        [tenant],
      );
    }
    expect(
      (await scoped.query('SELECT tenant_id, last_seen_run FROM control.discrepancies_now')).rows,
    ).toEqual([{ tenant_id: 'acme', last_seen_run: 'acme-r1' }]);
    expect((await scoped.query('SELECT tenant_id FROM control.entity_runs')).rows).toEqual([
      { tenant_id: 'acme' },
    ]);
    await expect(
      scoped.query(
        `INSERT INTO control.entity_runs (tenant_id, entity, run_no, run_id) VALUES ('globex', 'customer', 2, 'x')`,
      ),
    ).rejects.toThrow(/row-level security/);
  });
  it('a table added by a later migration is granted to the tenant roles that exist already', async () => {
    const known = await loadMigrations();
    const next = known.length + 1;
    const upgrade = {
      id: next,
      name: `${String(next).padStart(4, '0')}_upgrade_probe`,
      sql: 'CREATE TABLE control.upgrade_probe (tenant_id text NOT NULL, x int)',
      checksum: 'test',
    };
    const res = await migrate(t.staging.pool, { migrations: [...known, upgrade] });
    expect(res.applied).toEqual([upgrade.name]);
    expect((await scoped.query('SELECT count(*)::int AS n FROM control.upgrade_probe')).rows).toEqual([
      { n: 0 },
    ]);
  });
});

// Tenant isolation enforced by Postgres (migration 0013, staging/tenant-scope.ts): row security
// forced on every staging and control table; each tenant-scoped path, run with its tenant filter
// deliberately left out (through a test hook), sees no row of another tenant; the scope's role
// cannot rewrite the audit trail or write checkpoints except through the scoped function.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { copyOut } from '../../reconcilers/mirror/staged-rows.js';
import { stageUnit } from '../../staging/stage.js';
import { tenantScopeTestHooks, withTenantScope } from '../../staging/tenant-scope.js';
import { useTestDatabase } from '../support/database.js';

const t = useTestDatabase('sec');
const dir = mkdtempSync(join(tmpdir(), 'trueup-sec-'));

const customers = (ids: string[]) =>
  ids.map((id) => ({
    sourceId: id,
    version: 1n,
    op: 'upsert' as const,
    fields: { name: `n${id}` },
    raw: {},
  }));

beforeAll(async () => {
  const pool = t.staging.pool;
  for (const tenant of ['ta', 'tb'])
    await stageUnit(pool, {
      tenant,
      system: 'erp',
      batches: [{ entity: 'customer', changes: customers(['1', '2']) }],
      checkpoints: [{ stream: 'customers', position: { cursor: `${tenant}-1` } }],
    });
  await pool.query(
    `INSERT INTO control.audit (tenant_id, actor, action) VALUES ('ta', 'test', 'seed'), ('tb', 'test', 'seed')`,
  );
});
afterEach(() => {
  tenantScopeTestHooks.afterEnter = undefined;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tenant scope', () => {
  it('forces row security on every table of staging and control', async () => {
    const { rows } = await t.staging.pool.query<{ rel: string; enabled: boolean; forced: boolean }>(
      `SELECT c.oid::regclass::text AS rel, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('staging', 'control') AND c.relkind IN ('r', 'p') ORDER BY 1`,
    );
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.filter((r) => !r.enabled || !r.forced).map((r) => r.rel)).toEqual([]);
  });

  it('runs as a role that is not a superuser and does not bypass row security', async () => {
    const { rows } = await t.staging.pool.query(
      `SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = 'trueup_tenant'`,
    );
    expect(rows).toEqual([{ rolsuper: false, rolbypassrls: false, rolcanlogin: false }]);
    const who = await withTenantScope(t.staging.pool, 'ta', async (c) => {
      const r = await c.query<{ u: string; t: string }>(
        `SELECT current_user AS u, current_setting('trueup.tenant') AS t`,
      );
      return r.rows[0];
    });
    expect(who).toEqual({ u: 'trueup_tenant', t: 'ta' });
  });

  it('the write path, with its tenant filter left out, sees only its own tenant', async () => {
    const seen: string[][] = [];
    tenantScopeTestHooks.afterEnter = async (client) => {
      for (const table of ['staging.customer', 'control.checkpoints', 'control.audit', 'control.tenants']) {
        const r = await client.query<{ tenant_id: string }>(`SELECT DISTINCT tenant_id FROM ${table}`);
        seen.push(r.rows.map((x) => x.tenant_id));
      }
      // An UPDATE without its tenant filter touches only the scope's rows.
      const u = await client.query(`UPDATE staging.customer SET name = name`);
      seen.push([`updated ${u.rowCount}`]);
    };
    await stageUnit(t.staging.pool, {
      tenant: 'ta',
      system: 'erp',
      batches: [{ entity: 'customer', changes: customers(['3']) }],
      checkpoints: [{ stream: 'customers', position: { cursor: 'ta-2' } }],
    });
    expect(seen.slice(0, 3)).toEqual([['ta'], ['ta'], ['ta']]);
    expect(seen[4]).toEqual(['updated 2']);
    const cp = await t.staging.pool.query(
      `SELECT tenant_id, position FROM control.checkpoints WHERE stream = 'customers' ORDER BY 1`,
    );
    expect(cp.rows).toEqual([
      { tenant_id: 'ta', position: { cursor: 'ta-2' } },
      { tenant_id: 'tb', position: { cursor: 'tb-1' } },
    ]);
  });

  it("the reconcile job's COPY out to the mirror, without its tenant filter, copies only its tenant", async () => {
    const file = join(dir, 'mirror.csv');
    expect(
      await copyOut(
        t.staging.pool,
        'SELECT tenant_id, source_id FROM staging.customer ORDER BY 2',
        file,
        'tb',
      ),
    ).toBe(true);
    expect(readFileSync(file, 'utf8').trim().split('\n')).toEqual(['tb,1', 'tb,2']);
  });

  it('status reads, without their tenant filter, see only their tenant', async () => {
    const rows = await withTenantScope(t.staging.pool, 'tb', async (c) => {
      const r = await c.query(`SELECT tenant_id, system, stream FROM control.checkpoints`);
      return r.rows;
    });
    expect(rows).toEqual([{ tenant_id: 'tb', system: 'erp', stream: 'customers' }]);
  });

  it('cannot write another tenant, rewrite the audit trail or write checkpoints directly', async () => {
    const attempt = (sql: string) =>
      withTenantScope(t.staging.pool, 'ta', (c) => c.query(sql)).then(
        () => 'ok',
        (e: { code?: string }) => e.code,
      );
    expect(await attempt(`UPDATE control.audit SET actor = 'x'`)).toBe('42501');
    expect(await attempt(`DELETE FROM control.audit`)).toBe('42501');
    expect(
      await attempt(`INSERT INTO control.audit (tenant_id, actor, action) VALUES ('ta', 'a', 'b')`),
    ).toBe('ok');
    expect(
      await attempt(`INSERT INTO control.audit (tenant_id, actor, action) VALUES ('tb', 'a', 'b')`),
    ).toBe('42501');
    expect(
      await attempt(
        `INSERT INTO control.checkpoints (tenant_id, system, stream, position) VALUES ('ta', 's', 'x', '1')`,
      ),
    ).toBe('42501');
    expect(await attempt(`UPDATE control.checkpoints SET position = '1'`)).toBe('42501');
    expect(await attempt(`DELETE FROM control.checkpoints`)).toBe('42501');
    expect(await attempt(`SELECT * FROM control.tenant_roles`)).toBe('ok');
    // (SET ROLE is checked against the session user, so SQL the pipeline itself runs could leave the
    // scope: the scope stops forgotten filters, not hostile SQL inside trueup — docs/security.md.)
    // The scoped function writes the scope's tenant, whatever the caller would like.
    expect(await attempt(`SELECT control.save_scoped_checkpoint('s', 'x', '{"p":1}', 0)`)).toBe('ok');
    const cp = await t.staging.pool.query(`SELECT tenant_id FROM control.checkpoints WHERE system = 's'`);
    expect(cp.rows).toEqual([{ tenant_id: 'ta' }]);
    // Outside a scope (no trueup.tenant), the function refuses.
    const noScope = await t.staging.pool
      .query(`SELECT control.save_scoped_checkpoint('s', 'x', '{"p":1}', 0)`)
      .then(
        () => 'ok',
        (e: { code?: string }) => e.code,
      );
    expect(noScope).toBe('42501');
  });

  it('a tenant id that looks like SQL is a value: its scope sees nothing of the others', async () => {
    const n = await withTenantScope(t.staging.pool, "ta' OR true --", async (c) => {
      const r = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM staging.customer');
      return r.rows[0]?.n;
    });
    expect(n).toBe(0);
  });
});

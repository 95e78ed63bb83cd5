// Each tenant-scoped path, run with its tenant filter deliberately left out, sees no row of another
// tenant: a test hook (tenantScopeTestHooks.afterEnter) runs, inside every tenant scope a path
// enters, queries with no tenant_id filter over every tenant table, and records what they see and
// who entered the scope. Paths: a reconcile (mirror COPY, newest seq, content hash, xref, checkpoint
// reads, results, run bookkeeping), checkpoints (load, first, stream state, list) and the one-tenant
// staging handle the CLI's actions/discrepancies/xref/dlq commands and apply use.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  firstCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  setStreamState,
} from '../../staging/checkpoints.js';
import { listActions } from '../../staging/control/actions.js';
import { listDeadLetters } from '../../staging/control/dead-letters.js';
import { listDiscrepancies } from '../../staging/control/discrepancies.js';
import { listLinks } from '../../staging/control/xref.js';
import { tenantStaging } from '../../staging/scoped-staging.js';
import { tenantScopeTestHooks } from '../../staging/tenant-scope.js';
import { csvTenantConfig, dataDir, reconcile, removeDataDirs, stageRows } from '../reconcilers/helpers.js';
import { useTestDatabase } from '../support/database.js';

const t = useTestDatabase('secpaths');
const TABLES = [
  'staging.customer',
  'control.checkpoints',
  'control.dead_letters',
  'control.xref',
  'control.runs',
  'control.discrepancies',
  'control.actions',
  'control.audit',
];

interface Seen {
  tenant: string;
  saw: Set<string>;
  by: string;
}
let seen: Seen[] = [];

/** Records, in every scope entered, the tenants each table shows without a tenant filter. */
function watch(): void {
  seen = [];
  tenantScopeTestHooks.afterEnter = async (client, tenant) => {
    const saw = new Set<string>();
    for (const table of TABLES) {
      const r = await client.query<{ tenant_id: string }>(`SELECT DISTINCT tenant_id FROM ${table}`);
      for (const row of r.rows) saw.add(row.tenant_id);
    }
    const by = (new Error().stack ?? '')
      .split('\n')
      .map((l) => /at (?:async )?([\w.]+) \(.*\/(reconcilers|staging|pipeline)\//.exec(l)?.[1])
      .filter((n) => n && !/Scope|scoped|query|Proxy/i.test(n))
      .slice(0, 1)
      .join('');
    seen.push({ tenant, saw, by });
  };
}

/** Every scope entered saw only its own tenant; returns who entered them. */
function onlyOwnTenant(tenant: string): string[] {
  expect(seen.length).toBeGreaterThan(0);
  for (const s of seen) {
    expect(s.tenant).toBe(tenant);
    expect([...s.saw]).toEqual(s.saw.size ? [tenant] : []);
  }
  return [...new Set(seen.map((s) => s.by))];
}

const config = (tenant: string) =>
  csvTenantConfig(tenant, { actions: { policy: 'propose', createMissing: true } });

beforeAll(async () => {
  for (const tenant of ['ta', 'tb']) {
    await stageRows(t, tenant, 'crm', 'customer', [
      { id: 'c1', name: 'Same', email: 'a@x.io' },
      { id: 'c2', name: 'Only CRM', email: 'b@x.io' },
    ]);
    await stageRows(t, tenant, 'erp', 'customer', [{ id: 'e1', name: 'Same', email: 'a@x.io' }]);
    await t.staging.pool.query(
      `INSERT INTO control.dead_letters (tenant_id, system, entity, record, error_kind, error_message, fingerprint)
       VALUES ($1, 'crm', 'customer', '{}', 'mapping', 'bad', $1)`,
      [tenant],
    );
  }
  // The other tenant has results of its own: runs, discrepancies, actions, links.
  const s = await reconcile(t, await dataDir(), 'tb', config('tb'), { entities: ['customer'] });
  expect(s.errors).toEqual([]);
});
afterEach(() => {
  tenantScopeTestHooks.afterEnter = undefined;
});
afterAll(removeDataDirs);

describe('tenant-scoped paths without their tenant filter', () => {
  it('a reconcile sees only its tenant in every read and write of staging', async () => {
    watch();
    const s = await reconcile(t, await dataDir(), 'ta', config('ta'), { entities: ['customer'] });
    expect(s.errors).toEqual([]);
    const by = onlyOwnTenant('ta');
    // The job's reads and writes went through scopes (names of the functions that entered them).
    for (const path of ['startRun', 'maxSeqOf', 'copyOut', 'syncXref', 'runReconcileJob', 'finishRun'])
      expect(by.join(' ')).toContain(path);
    const { rows } = await t.staging.pool.query(
      `SELECT DISTINCT tenant_id FROM control.discrepancies ORDER BY 1`,
    );
    expect(rows.map((r) => r.tenant_id)).toEqual(['ta', 'tb']);
  });

  it('checkpoints: load, first, stream state and list, each in its scope', async () => {
    watch();
    const key = { tenant: 'ta', system: 'crm', stream: 'accounts' };
    expect(await firstCheckpoint(t.staging.pool, key, { since: 'x' })).toEqual({
      position: { since: 'x' },
      created: true,
    });
    expect(await loadCheckpoint(t.staging.pool, key)).toEqual({ since: 'x' });
    await setStreamState(t.staging.db, key, 'paused', 'daily limit');
    expect((await listCheckpoints(t.staging.db, 'ta')).map((c) => [c.stream, c.state])).toEqual([
      ['accounts', 'paused'],
    ]);
    // first: its scope, and the checkpoint's save entering it again; then load, stream state, list.
    expect(seen.length).toBe(5);
    onlyOwnTenant('ta');
  });

  it("the one-tenant staging handle (CLI commands, apply) sees only its tenant's rows", async () => {
    const ta = tenantStaging(t.staging, 'ta');
    // A query with no tenant filter at all, through the handle's pool and its kysely.
    const direct = await ta.pool.query<{ tenant_id: string }>(
      'SELECT DISTINCT tenant_id FROM control.discrepancies',
    );
    expect(direct.rows).toEqual([{ tenant_id: 'ta' }]);
    const viaDb = await ta.db.selectFrom('control.actions').select('tenant_id').distinct().execute();
    expect(viaDb).toEqual([{ tenant_id: 'ta' }]);
    watch();
    expect((await listDiscrepancies(ta.db, { tenant: 'ta' })).length).toBeGreaterThan(0);
    expect((await listActions(ta.db, { tenant: 'ta' })).length).toBeGreaterThan(0);
    await listLinks(ta.db, 'ta', 'customer');
    expect((await listDeadLetters(ta.db, { tenant: 'ta' })).map((d) => d.tenant)).toEqual(['ta']);
    // Asking the handle of one tenant for another's rows finds nothing.
    expect(await listDiscrepancies(ta.db, { tenant: 'tb' })).toEqual([]);
    onlyOwnTenant('ta');
    // A transaction on a client of the handle is in the scope too, and leaves it at its end.
    const c = await ta.pool.connect();
    try {
      await c.query('BEGIN');
      const r = await c.query(`SELECT current_user AS u, current_setting('trueup.tenant') AS t`);
      expect(r.rows).toEqual([{ u: 'trueup_tenant', t: 'ta' }]);
      await c.query('COMMIT');
    } finally {
      c.release();
    }
    const after = await t.staging.pool.query(`SELECT current_user AS u`);
    expect(after.rows[0].u).not.toBe('trueup_tenant');
  });
});

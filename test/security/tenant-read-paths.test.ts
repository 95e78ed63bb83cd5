// The one-tenant read paths outside sync and reconcile — `trueup status --tenant`, serve's per-tenant
// API routes and a run's report — read in their tenant's scope: a test hook
// (tenantScopeTestHooks.afterEnter) runs, inside every scope such a path enters, queries with their
// tenant_id filter deliberately left out over every tenant table, and sees no row of the other
// tenant. The hook also records which functions entered the scopes, so a path that stopped
// scoping (and so entered none) fails here rather than passing with nothing to check.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TrueupConfig } from '../../pipeline/config/schema.js';
import { serveRoutes } from '../../pipeline/serve/api-routes.js';
import type { JobQueue } from '../../pipeline/serve/job-queue.js';
import { trueupWork } from '../../pipeline/serve/jobs.js';
import type { ServeMetrics } from '../../pipeline/serve/metrics.js';
import { writeRunReports } from '../../reports/write-run-reports.js';
import { tenantScopeTestHooks } from '../../staging/tenant-scope.js';
import { cliWorld } from '../cli/cli-world.js';
import { csvTenantConfig, reconcile, stageRows } from '../reconcilers/helpers.js';
import { quietLogger } from '../support/postgres.js';

const actions = { actions: { policy: 'propose', createMissing: true } };
const world = cliWorld('secreads', ['ta', 'tb'], actions);
const TABLES = [
  'control.tenants',
  'staging.customer',
  'control.checkpoints',
  'control.dead_letters',
  'control.xref',
  'control.runs',
  'control.entity_runs',
  'control.discrepancies',
  'control.discrepancies_now',
  'control.actions',
  'control.audit',
];

interface Seen {
  tenant: string;
  saw: Set<string>;
  stack: string;
}
let seen: Seen[] = [];
const runs: Record<string, string> = {};
let outDir = '';

function watch(): void {
  seen = [];
  tenantScopeTestHooks.afterEnter = async (client, tenant) => {
    const saw = new Set<string>();
    for (const table of TABLES) {
      const r = await client.query<{ tenant_id: string }>(`SELECT DISTINCT tenant_id FROM ${table}`);
      for (const row of r.rows) saw.add(row.tenant_id);
    }
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 80;
    const stack = new Error().stack ?? '';
    Error.stackTraceLimit = limit;
    seen.push({ tenant, saw, stack });
  };
}

/** Every scope entered saw only `tenant`'s rows; every name in `paths` entered at least one. */
function onlyOwnTenant(tenant: string, paths: string[]): void {
  expect(seen.length).toBeGreaterThan(0);
  for (const s of seen) {
    expect(s.tenant).toBe(tenant);
    expect([...s.saw]).toEqual([tenant]);
  }
  const stacks = seen.map((s) => s.stack).join('\n');
  for (const p of paths) expect(stacks, `${p} entered no tenant scope`).toMatch(new RegExp(`\\b${p}\\b`));
}

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'trueup-secreads-'));
  const t = world.db;
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
    await t.staging.pool.query(
      `INSERT INTO control.checkpoints (tenant_id, system, stream, position) VALUES ($1, 'crm', 'customer', '{}')`,
      [tenant],
    );
    const s = await reconcile(t, world.dir, tenant, csvTenantConfig(tenant, actions), {
      entities: ['customer'],
    });
    expect(s.errors).toEqual([]);
    runs[tenant] = s.runId;
  }
});
afterEach(() => {
  tenantScopeTestHooks.afterEnter = undefined;
});
afterAll(async () => {
  await rm(outDir, { recursive: true, force: true });
});

describe('one-tenant reads without their tenant filter', () => {
  it('trueup status --tenant reads every staging figure in the tenant scope', async () => {
    watch();
    const r = await world.cli(['status', '--tenant', 'ta', '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    onlyOwnTenant('ta', ['listTenants', 'countOpenDeadLetters', 'stagedState']);
    const out = JSON.parse(r.out);
    expect(out.tenants.map((x: { id: string }) => x.id)).toEqual(['ta']);
    expect(out.streams.map((x: { tenant: string }) => x.tenant)).toEqual(['ta', 'ta']);
    // Across tenants it stays the owner's view: no scope, both tenants.
    watch();
    const all = JSON.parse((await world.cli(['status', '--json'])).out);
    expect(seen).toEqual([]);
    expect(all.tenants.map((x: { id: string }) => x.id)).toEqual(['ta', 'tb']);
  });

  it("serve's per-tenant API routes read in the tenant scope", async () => {
    const routes = serveRoutes({
      config: { tenants: { ta: {}, tb: {} } } as unknown as TrueupConfig,
      staging: world.db.staging,
      queue: {} as JobQueue,
      metrics: {} as ServeMetrics,
      ready: async () => ({ ready: true, checks: {} }),
      rereadable: () => false,
      status: () => ({}),
    });
    const get = (path: string) => routes.find((r) => r.method === 'GET' && r.path === path)!;
    const call = (path: string) =>
      get(path).handle({ params: { tenant: 'ta' }, query: new URLSearchParams(), body: undefined });
    watch();
    const d = (await call('/api/tenants/:tenant/discrepancies')).json as {
      discrepancies: { tenant?: string }[];
    };
    expect(d.discrepancies.length).toBeGreaterThan(0);
    onlyOwnTenant('ta', ['listDiscrepancies']);
    watch();
    const runsOf = (await call('/api/tenants/:tenant/runs')).json as { runs: { runId: string }[] };
    expect(runsOf.runs.map((x) => x.runId)).toEqual([runs.ta]);
    onlyOwnTenant('ta', ['listRuns']);
    watch();
    const a = (await call('/api/tenants/:tenant/actions')).json as { actions: unknown[] };
    expect(a.actions.length).toBeGreaterThan(0);
    onlyOwnTenant('ta', ['listActions']);
  });

  it("a run's report is read in one snapshot in the tenant scope", async () => {
    watch();
    const res = await writeRunReports(world.db.staging.pool, {
      tenant: 'ta',
      runId: runs.ta!,
      systems: { crm: 'crm', erp: 'erp' },
      dir: join(outDir, 'ta'),
    });
    expect(res.summary).toBeTruthy();
    onlyOwnTenant('ta', ['writeRunReports']);
    // The snapshot's scope is the one every loader ran in.
    expect(seen).toHaveLength(1);
    // Another tenant's run is not there for this tenant's report.
    watch();
    await expect(
      writeRunReports(world.db.staging.pool, {
        tenant: 'ta',
        runId: runs.tb!,
        systems: { crm: 'crm', erp: 'erp' },
        dir: join(outDir, 'tb'),
      }),
    ).rejects.toThrow(/tenant ta has no reconcile run/);
  });

  it("serve's hand-back marks the interrupted runs failed in the tenant's scope only", async () => {
    const pool = world.db.staging.pool;
    for (const tenant of ['ta', 'tb'])
      await pool.query(
        `INSERT INTO control.runs (tenant_id, run_id, kind, status) VALUES ($1, 'interrupted', 'reconcile', 'running')`,
        [tenant],
      );
    const work = trueupWork({
      staging: world.db.staging,
      stagingUrl: world.db.url,
      dataDir: world.dir,
      logger: quietLogger(),
      workers: { threads: 1, jobTimeoutMs: 10_000 },
    });
    watch();
    expect(await work.abandonRuns('ta', new Date(Date.now() - 60_000), 'handed back')).toBe(1);
    await work.close();
    onlyOwnTenant('ta', ['abandonRuns']);
    const { rows } = await pool.query(
      `SELECT tenant_id, status FROM control.runs WHERE run_id = 'interrupted' ORDER BY tenant_id`,
    );
    expect(rows).toEqual([
      { tenant_id: 'ta', status: 'failed' },
      { tenant_id: 'tb', status: 'running' },
    ]);
  });
});

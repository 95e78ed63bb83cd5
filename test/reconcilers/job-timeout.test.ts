// A job over the pool's time limit (workers.jobTimeoutMs) fails with an error naming tenant,
// entity and the limit, and the tenants after it still run: inline (the job held by the
// afterRefresh seam) and on real worker threads from dist/ (the job blocked on the lifecycle's
// advisory lock, held by the test), where the job's thread is ended and the next job gets a
// fresh one.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { jobHooks } from '../../reconcilers/job/reconcile-job.js';
import { createReconcilePool, type ReconcilePool } from '../../reconcilers/pool/reconcile-pool.js';
import { packageRoot } from '../../staging/package-root.js';
import { useTestDatabase } from '../support/database.js';
import { ManualTimers } from '../support/manual-timers.js';
import { until } from '../support/wait.js';
import { csvTenantConfig, dataDir, openKeys, reconcile, removeDataDirs, stageRows } from './helpers.js';

const db = useTestDatabase('recon_timeout');
const pools: ReconcilePool[] = [];
afterAll(async () => {
  jobHooks.afterRefresh = undefined;
  await Promise.all(pools.map((p) => p.close()));
  await removeDataDirs();
});

async function stageTenant(t: string) {
  await stageRows(db, t, 'crm', 'customer', [{ id: 'C1', name: 'Acme', erp_ref: 'E1' }]);
  await stageRows(db, t, 'erp', 'customer', [{ id: 'E1', name: 'Acme Ltd' }]);
}

const run = (t: string, pool: ReconcilePool, dir: string) =>
  reconcile(db, dir, t, csvTenantConfig(t), { entities: ['customer'], pool });

it('inline: a held job fails at the limit and the next tenant runs', async () => {
  // The limit's timer fires when the job is held, not after 2 s of a busy machine's wall clock,
  // and never under the next tenant's job.
  const timers = new ManualTimers();
  const pool = createReconcilePool({ threads: 1, inline: true, jobTimeoutMs: 2_000, timers });
  pools.push(pool);
  await stageTenant('held');
  await stageTenant('next');
  let release!: () => void;
  const held = new Promise<void>((r) => {
    release = r;
  });
  jobHooks.afterRefresh = async (job) => {
    if (job.tenant !== 'held') return;
    expect(timers.fire(2_000)).toBe(1);
    await held;
    throw new Error('released after the time limit');
  };
  const dir = await dataDir();
  const s = await run('held', pool, dir);
  expect(s.status).toBe('failed');
  expect(s.errors).toEqual([
    {
      entity: 'customer',
      message:
        'reconcile job of tenant held, entity customer ran longer than the job time limit of 2000 ms ' +
        '(workers.jobTimeoutMs) and was stopped',
    },
  ]);
  const next = await run('next', pool, dir);
  expect(next.errors).toEqual([]);
  expect(await openKeys(db, 'next')).toEqual(['customer field_mismatch C:C1|E:E1 name']);
  release();
  jobHooks.afterRefresh = undefined;
});

it('threads: the job blocked on a lock fails, its thread is ended, the next tenant runs', async () => {
  const dist = join(packageRoot(), 'dist', 'reconcilers', 'pool', 'reconcile-pool.js');
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run "npm run build" first (npm test does)`);
  const mod = (await import(
    pathToFileURL(dist).href
  )) as typeof import('../../reconcilers/pool/reconcile-pool.js');
  const timers = new ManualTimers();
  const pool = mod.createReconcilePool({ threads: 1, jobTimeoutMs: 4_000, timers });
  pools.push(pool);
  expect(pool.threaded).toBe(true);
  await stageTenant('locked');
  await stageTenant('after');
  const dir = await dataDir();
  // Warm the thread, so the limit measures the job and not the thread's start.
  expect((await run('after', pool, dir)).errors).toEqual([]);
  // The advisory lock writeResults takes for the tenant × entity (lifecycle/write-results.ts).
  const locker = new pg.Client({ connectionString: db.url });
  await locker.connect();
  try {
    await locker.query("SELECT pg_advisory_lock(hashtext('locked'), hashtext('reconcile:customer'))");
    const running = run('locked', pool, dir);
    // Its time is up once it waits on the lock.
    await until('the job to wait on the lock', async () => {
      const waiting = await locker.query(
        `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database =
           (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      return waiting.rows.length > 0;
    });
    expect(timers.fire(4_000)).toBe(1);
    const s = await running;
    expect(s.errors.map((e) => e.message)).toEqual([
      'reconcile job of tenant locked, entity customer ran longer than the job time limit of 4000 ms ' +
        '(workers.jobTimeoutMs) and was stopped',
    ]);
    const after = await run('after', pool, dir);
    expect(after.errors).toEqual([]);
  } finally {
    await locker.end();
  }
  // Lock gone: the tenant's mirror is usable again on the fresh thread.
  const again = await run('locked', pool, dir);
  expect(again.errors).toEqual([]);
  expect(await openKeys(db, 'locked')).toEqual(['customer field_mismatch C:C1|E:E1 name']);
});

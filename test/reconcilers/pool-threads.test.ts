// The piscina pool for real: piscina loads compiled JavaScript only, so this test takes the pool
// and its worker from dist/ (`npm test` builds first) and runs real jobs on worker threads, then
// checks that their results equal the same jobs run inline on identical data.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type GenerateOptions, generateTenant } from '../../pipeline/generator/ground-truth.js';
import { stageTenant } from '../../pipeline/generator/stage-generated.js';
import type { JobResult } from '../../reconcilers/pool/job-protocol.js';
import type { ReconcilePool } from '../../reconcilers/pool/reconcile-pool.js';
import { reconcileTenant } from '../../reconcilers/run/reconcile-tenant.js';
import { packageRoot } from '../../staging/package-root.js';
import { useTestDatabase } from '../support/database.js';
import {
  dataDir,
  pool as inlinePool,
  keyOf,
  openDiscrepancies,
  removeDataDirs,
  tenantConfigOf,
} from './helpers.js';

const COUNTS = { customer: 80, product: 20, order: 40, invoice: 40, payment: 30, subscription: 20 };

const db = useTestDatabase('recon_threads');
let threaded: ReconcilePool;

beforeAll(async () => {
  const dist = join(packageRoot(), 'dist', 'reconcilers', 'pool');
  for (const f of ['reconcile-pool.js', 'reconcile-worker.js'])
    if (!existsSync(join(dist, f)))
      throw new Error(`${join(dist, f)} is missing: run "npm run build" first (npm test does)`);
  const mod = (await import(
    pathToFileURL(join(dist, 'reconcile-pool.js')).href
  )) as typeof import('../../reconcilers/pool/reconcile-pool.js');
  threaded = mod.createReconcilePool({ threads: 2 });
});
afterAll(async () => {
  await threaded?.close();
  await removeDataDirs();
});

/** A job result without what legitimately differs between two tenants' runs (time, staged_seq). */
function comparable(r: JobResult) {
  const { timings: _t, tenant: _n, mirror, ...rest } = r;
  return { ...rest, mirror: { ...mirror, lastSeq: undefined } };
}

it('runs jobs on worker threads from dist/ with the same results as inline', async () => {
  expect(threaded.threaded).toBe(true);
  const run = async (tenant: string, pool: ReconcilePool) => {
    const opts: GenerateOptions = { tenant, seed: 21, counts: COUNTS, currencies: ['JPY', 'BHD', 'EUR'] };
    await stageTenant(db.staging.pool, generateTenant(opts));
    const summary = await reconcileTenant({
      tenant,
      tenantConfig: tenantConfigOf(opts),
      staging: db.staging,
      stagingUrl: db.url,
      dataDir: await dataDir(),
      pool,
      confirm: { waitMs: 0 },
      duckdbThreads: 1,
    });
    expect(summary.errors).toEqual([]);
    const open = (await openDiscrepancies(db, tenant)).map(keyOf).sort();
    const results = [...summary.entities].sort((a, b) => a.entity.localeCompare(b.entity)).map(comparable);
    return { results, open, totals: summary.totals, moneyVariance: summary.moneyVariance };
  };
  const onThreads = await run('threads', threaded);
  const inline = await run('inline', inlinePool);
  expect(onThreads.results).toHaveLength(6);
  expect(onThreads).toEqual(inline);
  expect(onThreads.totals.discrepancies).toBeGreaterThan(0);
});

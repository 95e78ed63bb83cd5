// The older versions a job replaces in the mirror are examined exactly once, whatever happens:
// - a job that fails after refreshing the mirror leaves the mirror as it was (one DuckDB
//   transaction per job), so the next incremental run reads the same delta again, including the
//   older versions the failed run had replaced;
// - rows an in-flight confirmation brings in are examined by the next run, so the older versions
//   they replaced are kept in the mirror until then.
// In both, a CRM record drops its direct key (erp_ref): its old partner is reachable only through
// its older version, and the next incremental run must still equal a full run.
import { afterAll, expect, it } from 'vitest';
import { validateConfig } from '../../pipeline/config/load-config.js';
import { inFlightHooks } from '../../reconcilers/job/confirm-in-flight.js';
import { jobHooks } from '../../reconcilers/job/reconcile-job.js';
import { stageUnit } from '../../staging/stage.js';
import { useTestDatabase } from '../support/database.js';
import { holdLiveStreams } from '../support/live-stream.js';
import { dataDir, keyOf, openDiscrepancies, reconcile, removeDataDirs } from './helpers.js';

let tenant = 'rollback';
const db = useTestDatabase('recon_rollback');
afterAll(async () => {
  jobHooks.afterRefresh = undefined;
  inFlightHooks.beforeWait = undefined;
  await removeDataDirs();
});

const cfg = () =>
  validateConfig(
    {
      tenants: {
        [tenant]: {
          systems: {
            crm: { kind: 'csv', role: 'crm', dropDir: '/tmp/trueup-rollback/crm' },
            erp: { kind: 'csv', role: 'erp', dropDir: '/tmp/trueup-rollback/erp' },
          },
          entities: { customer: { match: { direct: [{ side: 'crm', field: 'erp_ref' }], keys: [] } } },
        },
      },
    },
    'test',
    {},
  ).tenants[tenant]!;

async function stage(system: 'crm' | 'erp', version: bigint, ids: number[], refs = true) {
  await stageUnit(db.staging.pool, {
    tenant,
    system,
    batches: [
      {
        entity: 'customer',
        changes: ids.map((i) => ({
          sourceId: `${system}-${i}`,
          version,
          op: 'upsert' as const,
          // crm-5 and erp-5 differ in name: a discrepancy for confirmation to look at.
          fields: {
            name: `Customer ${i}${system === 'erp' && i === 5 ? ' Ltd' : ''}`,
            erp_ref: system === 'crm' && refs ? `erp-${i}` : null,
          },
        })),
      },
    ],
    checkpoints: [{ stream: 'cdc', position: { at: Date.now() } }],
  });
}

async function sameAsFull() {
  const incremental = (await openDiscrepancies(db, tenant)).map(keyOf).sort();
  await reconcile(db, await dataDir(), tenant, cfg(), { entities: ['customer'], mode: 'full' });
  expect((await openDiscrepancies(db, tenant)).map(keyOf).sort()).toEqual(incremental);
  return incremental;
}

it('rolls the mirror back when a job fails, and the next incremental run equals a full run', async () => {
  const ids = Array.from({ length: 10 }, (_, i) => i);
  await stage('crm', 1n, ids);
  await stage('erp', 1n, ids);
  const dir = await dataDir();
  const first = await reconcile(db, dir, tenant, cfg(), { entities: ['customer'] });
  expect(first.errors).toEqual([]);
  expect(first.totals.discrepancies).toBe(1);

  // crm-0 drops its link: crm-0 and its old partner erp-0 are both unmatched now.
  await stage('crm', 2n, [0], false);
  jobHooks.afterRefresh = async () => {
    throw new Error('injected failure after the refresh');
  };
  const failed = await reconcile(db, dir, tenant, cfg(), { entities: ['customer'] });
  expect(failed.errors.map((e) => e.message)).toEqual(['injected failure after the refresh']);
  jobHooks.afterRefresh = undefined;

  const inc = await reconcile(db, dir, tenant, cfg(), { entities: ['customer'] });
  expect(inc.errors).toEqual([]);
  expect(inc.entities[0]).toMatchObject({ mode: 'incremental', scope: { crm: 1, erp: 1 } });
  expect(await sameAsFull()).toEqual([
    'customer field_mismatch C:crm-5|E:erp-5 name',
    'customer missing_in_crm E:erp-0 ',
    'customer missing_in_erp C:crm-0 ',
  ]);
});

it('keeps the older versions replaced during in-flight confirmation for the next run', async () => {
  tenant = 'inflight-prev';
  const ids = Array.from({ length: 10 }, (_, i) => i);
  await stage('crm', 1n, ids);
  await stage('erp', 1n, ids);
  const dir = await dataDir();
  const confirm = { waitMs: 5_000, pollMs: 50 };
  expect((await reconcile(db, dir, tenant, cfg(), { entities: ['customer'] })).errors).toEqual([]);

  // Touch crm-5 so the next run flags it and confirms; while it waits, crm-0 drops its link.
  await stage('crm', 2n, [5]);
  inFlightHooks.beforeWait = async () => {
    await stage('crm', 3n, [0], false);
    await stage('erp', 3n, []);
  };
  // Both systems are being read right now (a reader holds each stream's claim).
  const release = await holdLiveStreams(db.url, tenant, [
    { system: 'crm', stream: 'cdc' },
    { system: 'erp', stream: 'cdc' },
  ]);
  const flight = await reconcile(db, dir, tenant, cfg(), { entities: ['customer'], confirm }).finally(
    release,
  );
  inFlightHooks.beforeWait = undefined;
  expect(flight.errors).toEqual([]);
  expect(flight.entities[0]).toMatchObject({ mode: 'incremental', confirmation: 'confirmed' });

  const next = await reconcile(db, dir, tenant, cfg(), { entities: ['customer'], confirm: { waitMs: 0 } });
  expect(next.entities[0]).toMatchObject({ mode: 'incremental', scope: { crm: 1, erp: 1 } });
  expect(await sameAsFull()).toEqual([
    'customer field_mismatch C:crm-5|E:erp-5 name',
    'customer missing_in_crm E:erp-0 ',
    'customer missing_in_erp C:crm-0 ',
  ]);
});

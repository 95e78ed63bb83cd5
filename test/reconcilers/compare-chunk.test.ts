// The compare streams its differing pairs in chunks (issue 13): compared, classified and written a
// chunk at a time. A chunk of 7 pairs must leave exactly what one chunk of all pairs leaves —
// discrepancies with every stored value, actions with theirs, the run's counts — over a full run
// with references (invoices → customers, payments → invoices) and an incremental run after a
// reviewer accepted some findings and one side changed (accepted findings get no actions, earlier
// actions are superseded or kept).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantConfig } from '../../pipeline/config/schema.js';
import { type GenerateOptions, generateTenant } from '../../pipeline/generator/ground-truth.js';
import { stageTenant, toUpsert } from '../../pipeline/generator/stage-generated.js';
import { compareChunk } from '../../reconcilers/compare/compare-pass.js';
import { acceptDiscrepancies } from '../../staging/control/discrepancies.js';
import { stageUnit } from '../../staging/stage.js';
import type { TestDatabase } from '../support/database.js';
import { useTestDatabase } from '../support/database.js';
import { dataDir, reconcile, removeDataDirs, tenantConfigOf } from './helpers.js';

const small = useTestDatabase('recon_chunk7');
const whole = useTestDatabase('recon_chunkall');
const tenant = 'chunky';
const opts: GenerateOptions = {
  tenant,
  seed: 7,
  counts: { customer: 80, invoice: 60, payment: 40 },
  rates: { field_mismatch: 0.6 },
};
const ENTITIES = ['customer', 'invoice', 'payment'] as const;
const defaultChunk = compareChunk.pairs;

afterAll(async () => {
  compareChunk.pairs = defaultChunk;
  await removeDataDirs();
});

/** Everything a run leaves in the control tables, without ids, run ids and times. */
async function results(db: TestDatabase) {
  const d = await db.staging.pool.query(
    `SELECT entity, match_key, class, field, crm_id, erp_id, crm_value, erp_value, currency,
            money_impact::text, material, detail, status, runs_open
       FROM control.discrepancies_now WHERE tenant_id = $1 ORDER BY entity, match_key, class, field`,
    [tenant],
  );
  const a = await db.staging.pool.query(
    `SELECT entity, target_system, target_id, kind, fields, explanation, observed_version::text, idempotency_key,
            status, error IS NOT NULL AS has_error
       FROM control.actions WHERE tenant_id = $1 ORDER BY idempotency_key`,
    [tenant],
  );
  return { discrepancies: d.rows, actions: a.rows };
}

/** The summary's counts (not its times). */
const counts = (s: Awaited<ReturnType<typeof reconcile>>) =>
  s.entities.map((e) => ({
    entity: e.entity,
    mode: e.mode,
    pairs: e.pairs,
    counts: e.counts,
    discrepancies: e.discrepancies,
    material: e.material,
    accepted: e.accepted,
    moneyVariance: e.moneyVariance,
    actions: e.actions,
    resolved: e.resolved,
  }));

/** Both runs in `db` with chunks of `pairs`: a full run, an acceptance and a change, an incremental run. */
async function scenario(db: TestDatabase, cfg: TenantConfig, pairs: number) {
  compareChunk.pairs = pairs;
  const gen = generateTenant(opts);
  await stageTenant(db.staging.pool, gen, { entities: [...ENTITIES] });
  const dir = await dataDir();
  const first = await reconcile(db, dir, tenant, cfg, { entities: [...ENTITIES], mode: 'full' });
  expect(first.errors).toEqual([]);
  const afterFirst = await results(db);
  // A reviewer accepts the first three field mismatches of the customers (same ones in both databases).
  const { rows } = await db.staging.pool.query<{ id: string }>(
    `SELECT id::text FROM control.discrepancies WHERE tenant_id = $1 AND entity = 'customer'
        AND class = 'field_mismatch' ORDER BY match_key, field LIMIT 3`,
    [tenant],
  );
  expect(rows).toHaveLength(3);
  await acceptDiscrepancies(db.staging.db, {
    tenant,
    ids: rows.map((r) => r.id),
    by: 'alice',
    reason: 'known',
    systems: { crm: 'crm', erp: 'erp' },
  });
  // Every fourth CRM customer changes its phone and credit limit.
  const changes = gen.entities.customer.crm
    .filter((_r, i) => i % 4 === 0)
    .map((r) => ({
      ...toUpsert(r),
      version: r.version + 5n,
      fields: { ...r.fields, phone: `+1 555 ${r.sourceId}`, credit_limit: '123.45' },
    }));
  await stageUnit(db.staging.pool, { tenant, system: 'crm', batches: [{ entity: 'customer', changes }] });
  const second = await reconcile(db, dir, tenant, cfg, { entities: [...ENTITIES] });
  expect(second.errors).toEqual([]);
  return { afterFirst, first: counts(first), second: counts(second), afterSecond: await results(db) };
}

describe('compare in chunks', () => {
  let cfg: TenantConfig;
  beforeAll(() => {
    cfg = tenantConfigOf(opts);
  });

  it('chunks of 7 pairs leave exactly what one chunk of all pairs leaves', async () => {
    const seven = await scenario(small, cfg, 7);
    const all = await scenario(whole, cfg, Number.MAX_SAFE_INTEGER);
    // Many chunks: far more differing pairs than 7 in each entity.
    for (const e of seven.first) expect(e.counts.field_mismatch ?? 0).toBeGreaterThan(14);
    expect(seven.afterSecond.actions.length).toBeGreaterThan(20);
    expect(seven.second.find((e) => e.entity === 'customer')?.mode).toBe('incremental');
    expect(seven).toEqual(all);
  }, 120_000);
});

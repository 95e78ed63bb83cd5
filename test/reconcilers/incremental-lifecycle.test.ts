// Incremental runs equal full runs, also after a tenant-level config change; discrepancy lifecycle
// across runs (read through discrepancies_now); in-flight confirmation; an entity named twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GeneratedTenant, generateTenant } from '../../pipeline/generator/ground-truth.js';
import { stageTenant, toUpsert } from '../../pipeline/generator/stage-generated.js';
import { inFlightHooks } from '../../reconcilers/job/confirm-in-flight.js';
import type { Entity } from '../../staging/model/entities.js';
import { stageUnit } from '../../staging/stage.js';
import { useTestDatabase } from '../support/database.js';
import { holdLiveStreams } from '../support/live-stream.js';
import {
  csvTenantConfig,
  dataDir,
  keyOf,
  openDiscrepancies,
  reconcile,
  removeDataDirs,
  stageRows,
  tenantConfigOf,
} from './helpers.js';

const COUNTS = { customer: 200, product: 40, order: 100, invoice: 100, payment: 60, subscription: 50 };
const db = useTestDatabase('recon_inc');
let dir: string;
beforeAll(async () => {
  dir = await dataDir();
});
afterAll(async () => {
  await removeDataDirs();
});

async function update(
  tenant: string,
  system: string,
  entity: Entity,
  rec: GeneratedTenant['entities'][Entity]['crm'][number],
  fields: Record<string, unknown>,
  op: 'upsert' | 'delete' = 'upsert',
) {
  const base = toUpsert(rec);
  await stageUnit(db.staging.pool, {
    tenant,
    system,
    batches: [
      {
        entity,
        changes: [{ ...base, op, version: rec.version + 100n, fields: { ...rec.fields, ...fields } }],
      },
    ],
    checkpoints: [{ stream: 'generator', position: { change: Date.now() } }],
  });
}

describe('incremental reconcile', () => {
  it('after a small change set equals a full run', async () => {
    const tenant = 'inc';
    const opts = { tenant, seed: 42, counts: COUNTS };
    const gen = generateTenant(opts);
    await stageTenant(db.staging.pool, gen);
    const cfg = tenantConfigOf(opts);
    const first = await reconcile(db, dir, tenant, cfg);
    expect(first.entities.every((e) => e.mode === 'full' && e.mirror.cold)).toBe(true);

    const cus = gen.entities.customer;
    const mismatch = gen.truth.find((t) => t.entity === 'customer' && t.class === 'field_mismatch')!;
    const erpRec = cus.erp.find((r) => r.sourceId === mismatch.erpId)!;
    const crmRec = cus.crm.find((r) => r.sourceId === mismatch.crmId)!;
    // Fix one mismatch at the source, break a clean pair, move an e-mail (business key), delete one
    // side of a pair, add a new lone record, and link two records by hand.
    await update(tenant, 'erp', 'customer', erpRec, { [mismatch.field]: crmRec.fields[mismatch.field] });
    const clean = cus.crm.filter((r) => r.fields.erp_ref && !r.deleted).slice(-3);
    await update(tenant, 'crm', 'customer', clean[0]!, { credit_limit: '999999.00' });
    await update(tenant, 'crm', 'customer', clean[1]!, {}, 'delete');
    const bkey = cus.crm.find((r) => !r.fields.erp_ref && String(r.fields.email).startsWith('  '));
    if (bkey) await update(tenant, 'crm', 'customer', bkey, { email: 'moved@example.com' });
    await update(
      tenant,
      'erp',
      'customer',
      { ...erpRec, sourceId: 'E-new-1', version: 1n },
      { crm_ref: null, email: 'new@example.com' },
    );
    await update(tenant, 'crm', 'invoice', gen.entities.invoice.crm[5]!, { total: '1.00' });
    // A one-way direct link (only the CRM record names its ERP partner) dropped together with the
    // business key: the ERP record is reached only through the CRM record's older version.
    const truthIds = new Set(gen.truth.flatMap((t) => [t.crmId, t.erpId]));
    const oneWay = cus.crm.find(
      (r) =>
        r.fields.erp_ref &&
        !r.deleted &&
        !truthIds.has(r.sourceId) &&
        !cus.erp.find((e) => e.sourceId === r.fields.erp_ref)?.fields.crm_ref,
    )!;
    await update(tenant, 'crm', 'customer', oneWay, { erp_ref: null, email: 'gone@example.com' });

    const inc = await reconcile(db, dir, tenant, cfg);
    expect(inc.entities.every((e) => e.mode === 'incremental' && !e.mirror.cold)).toBe(true);
    const customer = inc.entities.find((e) => e.entity === 'customer')!;
    expect(customer.scope.crm).toBeLessThan(COUNTS.customer / 2);
    const afterIncremental = new Set((await openDiscrepancies(db, tenant)).map(keyOf));
    expect(afterIncremental).toContain(`customer missing_in_crm E:${oneWay.fields.erp_ref} `);

    const full = await reconcile(db, dir, tenant, cfg, { mode: 'full', rebuildMirror: true });
    expect(full.entities.every((e) => e.mode === 'full' && e.mirror.cold)).toBe(true);
    const afterFull = new Set((await openDiscrepancies(db, tenant)).map(keyOf));
    expect([...afterIncremental].sort()).toEqual([...afterFull].sort());
    expect(afterFull.has(keyOf({ ...mismatch, matchKey: mismatch.matchKey }))).toBe(false);
    expect(full.totals.resolved).toBe(0);
  });
});

describe('discrepancy lifecycle', () => {
  it('counts runs open, keeps the first-seen run, and resolves once fixed at the source', async () => {
    const tenant = 'life';
    const opts = { tenant, seed: 7, counts: { ...COUNTS, customer: 80 } };
    const gen = generateTenant(opts);
    await stageTenant(db.staging.pool, gen);
    const cfg = tenantConfigOf(opts);
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await reconcile(db, dir, tenant, cfg, { entities: ['customer'] }));
    const t = gen.truth.find((x) => x.entity === 'customer' && x.class === 'field_mismatch')!;
    const read = async () =>
      (
        await db.staging.pool.query(
          `SELECT status, runs_open, first_seen_run, last_seen_run FROM control.discrepancies_now
            WHERE tenant_id = $1 AND entity = 'customer' AND match_key = $2 AND class = $3 AND field = $4`,
          [tenant, t.matchKey, t.class, t.field],
        )
      ).rows[0];
    expect(await read()).toMatchObject({
      status: 'open',
      runs_open: 3,
      first_seen_run: runs[0]!.runId,
      last_seen_run: runs[2]!.runId,
    });
    const crm = gen.entities.customer.crm.find((r) => r.sourceId === t.crmId)!;
    const erp = gen.entities.customer.erp.find((r) => r.sourceId === t.erpId)!;
    await update(tenant, 'crm', 'customer', crm, { [t.field]: erp.fields[t.field] });
    await reconcile(db, dir, tenant, cfg, { entities: ['customer'] });
    // Runs 2 and 3 carried it forward without rewriting it; resolving writes down what they implied.
    expect(runs.slice(1).every((r) => r.entities[0]?.mode === 'incremental')).toBe(true);
    expect(await read()).toMatchObject({ status: 'resolved', runs_open: 3, last_seen_run: runs[2]!.runId });
    const actions = await db.staging.pool.query(
      `SELECT kind, status, fields, explanation, observed_version FROM control.actions WHERE tenant_id = $1`,
      [tenant],
    );
    expect(actions.rows.length).toBeGreaterThan(0);
    expect(actions.rows.every((a) => a.kind === 'create' || a.observed_version !== null)).toBe(true);
  });
});

describe('in-flight confirmation', () => {
  it('does not report a mismatch that CDC stages before confirmation', async () => {
    const tenant = 'flight';
    const opts = { tenant, seed: 9, counts: { ...COUNTS, customer: 80 } };
    const gen = generateTenant(opts);
    await stageTenant(db.staging.pool, gen);
    const cfg = tenantConfigOf(opts);
    const t = gen.truth.find((x) => x.entity === 'customer' && x.class === 'field_mismatch')!;
    const crm = gen.entities.customer.crm.find((r) => r.sourceId === t.crmId)!;
    const erp = gen.entities.customer.erp.find((r) => r.sourceId === t.erpId)!;
    inFlightHooks.beforeWait = async () => {
      await new Promise((r) => setTimeout(r, 20));
      await update(tenant, 'crm', 'customer', crm, { [t.field]: erp.fields[t.field] });
      // The ERP stream checkpoints too (a CDC heartbeat) — confirmation waits for every live stream.
      await stageUnit(db.staging.pool, {
        tenant,
        system: 'erp',
        batches: [],
        checkpoints: [{ stream: 'generator', position: { heartbeat: Date.now() } }],
      });
    };
    // Both systems are being read right now (a reader holds each stream's claim).
    const release = await holdLiveStreams(db.url, tenant, [
      { system: 'crm', stream: 'generator' },
      { system: 'erp', stream: 'generator' },
    ]);
    try {
      const s = await reconcile(db, dir, tenant, cfg, {
        entities: ['customer'],
        confirm: { waitMs: 5_000, pollMs: 50 },
      });
      expect(s.entities[0]!.confirmation).toBe('confirmed');
      expect(s.totals.resolvedInFlight).toBeGreaterThanOrEqual(1);
    } finally {
      inFlightHooks.beforeWait = undefined;
      await release();
    }
    const open = new Set((await openDiscrepancies(db, tenant)).map(keyOf));
    expect(open.has(keyOf(t))).toBe(false);
    const others = gen.truth.filter((x) => x.entity === 'customer' && keyOf(x) !== keyOf(t));
    for (const o of others) expect(open.has(keyOf(o))).toBe(true);
  });
});

describe('in-flight confirmation of missing and duplicated records', () => {
  it('matches again: a counterpart that arrives in flight and a duplicate link removed in flight resolve', async () => {
    const tenant = 'flight2';
    const opts = { tenant, seed: 10, counts: { ...COUNTS, customer: 120 } };
    const gen = generateTenant(opts);
    await stageTenant(db.staging.pool, gen);
    const cfg = tenantConfigOf(opts);
    const cus = gen.entities.customer;
    const lone = gen.truth.find((x) => x.entity === 'customer' && x.class === 'missing_in_erp')!;
    const dup = gen.truth.find((x) => x.entity === 'customer' && x.class === 'duplicate_match')!;
    const crmLone = cus.crm.find((r) => r.sourceId === lone.crmId)!;
    const second = cus.erp.find((r) => r.fields.crm_ref === dup.crmId && r.sourceId.endsWith('-dup'))!;
    inFlightHooks.beforeWait = async () => {
      // The ERP side of the lone CRM record is created (pointing at it) and the duplicate's
      // second ERP record is re-pointed, both staged by CDC before confirmation.
      await update(
        tenant,
        'erp',
        'customer',
        { ...crmLone, sourceId: 'E-arrived', version: 1n },
        {
          crm_ref: crmLone.sourceId,
          erp_ref: null,
        },
      );
      await update(tenant, 'erp', 'customer', second, { crm_ref: null, email: 'someone-else@example.com' });
      await stageUnit(db.staging.pool, {
        tenant,
        system: 'crm',
        batches: [],
        checkpoints: [{ stream: 'generator', position: { heartbeat: Date.now() } }],
      });
    };
    // Both systems are being read right now (a reader holds each stream's claim).
    const release = await holdLiveStreams(db.url, tenant, [
      { system: 'crm', stream: 'generator' },
      { system: 'erp', stream: 'generator' },
    ]);
    try {
      const s = await reconcile(db, dir, tenant, cfg, {
        entities: ['customer'],
        confirm: { waitMs: 5_000, pollMs: 50 },
      });
      expect(s.entities[0]!.confirmation).toBe('confirmed');
      expect(s.totals.resolvedInFlight).toBeGreaterThanOrEqual(2);
    } finally {
      inFlightHooks.beforeWait = undefined;
      await release();
    }
    const open = new Set((await openDiscrepancies(db, tenant)).map(keyOf));
    expect(open.has(keyOf(lone))).toBe(false);
    expect(open.has(keyOf(dup))).toBe(false);
    const others = gen.truth.filter((x) => x.entity === 'customer' && x !== lone && x !== dup);
    for (const o of others) expect(open.has(keyOf(o))).toBe(true);
    const { rows } = await db.staging.pool.query(
      `SELECT match_key, status, detail->>'resolvedInFlight' AS run FROM control.discrepancies
        WHERE tenant_id = $1 AND match_key = ANY($2)`,
      [tenant, [lone.matchKey, dup.matchKey]],
    );
    expect(rows).toHaveLength(2);
    for (const r of rows) expect(r).toMatchObject({ status: 'resolved', run: expect.any(String) });
  });
});

describe('lifecycle through discrepancies_now', () => {
  async function lifecycleOf(tenant: string) {
    const { rows } = await db.staging.pool.query(
      `SELECT match_key, class, field, status, runs_open, first_seen_run, last_seen_run
         FROM control.discrepancies_now WHERE tenant_id = $1 ORDER BY match_key, class, field`,
      [tenant],
    );
    return rows;
  }

  it('open → carried forward → accepted → resolved → reopened', async () => {
    const t = 'life2';
    const dir = await dataDir();
    const cfg = csvTenantConfig(t);
    const run = (mode?: 'full') =>
      reconcile(db, dir, t, cfg, { entities: ['invoice'], ...(mode ? { mode } : {}) });
    await stageRows(db, t, 'crm', 'invoice', [
      { id: 'C1', erp_ref: 'E1', currency: 'USD', total: '10.00' },
      { id: 'C2', erp_ref: 'E2', currency: 'USD', total: '10.00' },
    ]);
    await stageRows(db, t, 'erp', 'invoice', [
      { id: 'E1', currency: 'USD', total: '11.00' },
      { id: 'E2', currency: 'USD', total: '10.00' },
    ]);
    const r1 = await run();
    // Something unrelated changes: the C1/E1 discrepancy is carried forward.
    await stageRows(db, t, 'erp', 'invoice', [{ id: 'E2', currency: 'USD', total: '10.00' }], {
      version: 2n,
    });
    const r2 = await run();
    expect(r2.entities[0]?.mode).toBe('incremental');
    expect(await lifecycleOf(t)).toMatchObject([
      {
        match_key: 'C:C1|E:E1',
        status: 'open',
        runs_open: 2,
        first_seen_run: r1.runId,
        last_seen_run: r2.runId,
      },
    ]);
    await db.staging.pool.query(`UPDATE control.discrepancies SET status = 'accepted' WHERE tenant_id = $1`, [
      t,
    ]);
    const r3 = await run('full');
    expect(await lifecycleOf(t)).toMatchObject([
      { status: 'accepted', runs_open: 3, last_seen_run: r3.runId },
    ]);
    // Fixed at the source.
    await stageRows(db, t, 'erp', 'invoice', [{ id: 'E1', currency: 'USD', total: '10.00' }], {
      version: 2n,
    });
    const r4 = await run();
    expect(await lifecycleOf(t)).toMatchObject([
      { status: 'resolved', runs_open: 3, last_seen_run: r3.runId },
    ]);
    expect(r4.totals.resolved).toBe(1);
    const r5 = await run();
    expect(await lifecycleOf(t)).toMatchObject([
      { status: 'resolved', runs_open: 3, last_seen_run: r3.runId },
    ]);
    // Broken again: a new episode.
    await stageRows(db, t, 'erp', 'invoice', [{ id: 'E1', currency: 'USD', total: '12.00' }], {
      version: 3n,
    });
    const r6 = await run();
    expect(await lifecycleOf(t)).toMatchObject([
      { status: 'open', runs_open: 1, first_seen_run: r6.runId, last_seen_run: r6.runId },
    ]);
    const r7 = await run();
    expect(await lifecycleOf(t)).toMatchObject([{ status: 'open', runs_open: 2, last_seen_run: r7.runId }]);
    expect(r5.totals.discrepancies).toBe(0);
  });

  it('an entity named twice (--entity invoice invoice) counts as one run', async () => {
    const t = 'twice';
    const dir = await dataDir();
    const cfg = csvTenantConfig(t);
    await stageRows(db, t, 'crm', 'invoice', [{ id: 'C1', erp_ref: 'E1', currency: 'USD', total: '10.00' }]);
    await stageRows(db, t, 'erp', 'invoice', [{ id: 'E1', currency: 'USD', total: '11.00' }]);
    const s = await reconcile(db, dir, t, cfg, { entities: ['invoice', 'invoice'] });
    const view = await lifecycleOf(t);
    expect({ discrepancies: s.totals.discrepancies, runsOpen: view[0]?.runs_open }).toEqual({
      discrepancies: 1,
      runsOpen: 1,
    });
  });
});

describe('incremental runs after a tenant-level config change', () => {
  async function materialOf(tenant: string) {
    const { rows } = await db.staging.pool.query<{ material: boolean }>(
      `SELECT material FROM control.discrepancies_now WHERE tenant_id = $1 AND status = 'open'`,
      [tenant],
    );
    return rows.map((r) => r.material);
  }

  it('lowering the materiality threshold is reflected by the next (incremental) run', async () => {
    const t = 'mat';
    const dir = await dataDir();
    await stageRows(db, t, 'crm', 'invoice', [{ id: 'C1', erp_ref: 'E1', currency: 'USD', total: '150.00' }]);
    await stageRows(db, t, 'erp', 'invoice', [{ id: 'E1', currency: 'USD', total: '100.00' }]);
    const first = await reconcile(db, dir, t, csvTenantConfig(t, { materiality: { threshold: '100' } }), {
      entities: ['invoice'],
    });
    expect(first.totals.material).toBe(0);
    expect(await materialOf(t)).toEqual([false]);
    // Finance lowers the threshold to 10: the 50 USD difference is now material.
    const lowered = csvTenantConfig(t, { materiality: { threshold: '10' } });
    const second = await reconcile(db, dir, t, lowered, { entities: ['invoice'] });
    const full = await reconcile(db, dir, t, lowered, { entities: ['invoice'], mode: 'full' });
    expect(full.totals.material).toBe(1);
    // The run right before (asked for incremental) must agree with the full run: the changed
    // config makes it a full run.
    expect({ mode: second.entities[0]?.mode, material: second.totals.material }).toEqual({
      mode: 'full',
      material: 1,
    });
  });

  it('turning on actions.createMissing proposes creates on the next (incremental) run', async () => {
    const t = 'crt';
    const dir = await dataDir();
    await stageRows(db, t, 'crm', 'customer', [{ id: 'C1', name: 'Lonely' }]);
    await stageRows(db, t, 'erp', 'customer', [{ id: 'E9', name: 'Other' }]);
    await reconcile(db, dir, t, csvTenantConfig(t), { entities: ['customer'] });
    const on = csvTenantConfig(t, { actions: { createMissing: true } });
    const second = await reconcile(db, dir, t, on, { entities: ['customer'] });
    const { rows } = await db.staging.pool.query(
      `SELECT kind, target_system FROM control.actions WHERE tenant_id = $1 AND run_id = $2`,
      [t, second.runId],
    );
    expect(rows.length).toBe(2);
  });
});

// The write-back loop against two real Postgres sources (CDC): a generated tenant with every class
// → reconcile → approve all → `trueup actions apply` (dry-run first: nothing written) → `--yes`
// → sync → reconcile: the corrected records are equal; three more cycles propose nothing (CRM owns
// name and phone, ERP owns currency, terms and credit limit: corrections go both ways). Two of the
// approved actions meet a record changed at the source since the reconcile: skipped_stale,
// untouched (the ERP guarded by its updatedAt column, the CRM, without one, by the values).
import { afterAll, expect, it } from 'vitest';
import { generatorTenantConfig } from '../../pipeline/generator/ground-truth.js';
import {
  actionCounts,
  appliedKeys,
  customers,
  openActionable,
  openClasses,
  openWorld,
  type World,
} from './apply-world.js';
import { type CustomerSource, customerSource, postgresSystem, useApplyDatabase } from './customer-source.js';

const db = useApplyDatabase('apply_pg');
const T = 'loop_pg';
let crm: CustomerSource;
let erp: CustomerSource;
let world: World;

afterAll(async () => {
  await world?.close();
  await crm?.db.drop();
  await erp?.db.drop();
});

async function targetOf(kind: 'upsert', system: string): Promise<{ id: string; target_id: string }> {
  const { rows } = await db.staging.pool.query(
    `SELECT id::text, target_id FROM control.actions WHERE tenant_id = $1 AND status = 'approved'
        AND kind = $2 AND target_system = $3 ORDER BY id LIMIT 1`,
    [T, kind, system],
  );
  return rows[0];
}

it('approved corrections reach both Postgres sources once, and the loop settles', async () => {
  const data = customers({
    seed: 16,
    count: 70,
    fields: ['name', 'email', 'phone', 'currency', 'payment_terms', 'credit_limit'],
  });
  crm = await customerSource(data.crm, { ref: 'erp_ref', updatedAt: false });
  erp = await customerSource(data.erp, { ref: 'crm_ref', updatedAt: true });
  const generated = generatorTenantConfig({ tenant: T }) as { entities: Record<string, unknown> };
  world = await openWorld({
    db,
    tenant: T,
    systems: {
      crm: postgresSystem('crm', 'CRM_URL', { updatedAt: false }),
      erp: postgresSystem('erp', 'ERP_URL', { updatedAt: true }),
    },
    env: { CRM_URL: crm.db.url, ERP_URL: erp.db.url },
    tenantExtra: {
      entities: { customer: generated.entities.customer },
      actions: { policy: 'propose', createMissing: true },
    },
  });
  await world.sync();
  await crm.deleteMarked();
  await erp.deleteMarked();
  await world.sync();
  await world.reconcile();
  const classes = await openClasses(db, T);
  for (const cls of [
    'field_mismatch',
    'missing_in_erp',
    'missing_in_crm',
    'duplicate_match',
    'deleted_in_one',
  ])
    expect(classes[cls], `generated class ${cls}`).toBeGreaterThan(0);
  const approved = await world.approveAll();
  expect(approved.length).toBeGreaterThan(5);

  // The dry-run reads each record now and writes nothing.
  const rowsBefore = [await crm.rowCount(), await erp.rowCount()];
  const dry = await world.cli(['actions', 'apply', '--tenant', T]);
  expect(dry.code, dry.err).toBe(0);
  expect(dry.out).toMatch(/would apply/);
  expect(dry.out).toMatch(/nothing was written/);
  expect([await crm.rowCount(), await erp.rowCount()]).toEqual(rowsBefore);
  expect((await crm.writes()).size + (await erp.writes()).size).toBe(0);
  expect((await actionCounts(db, T)).approved).toBe(approved.length);

  // Two targets change at the source after the reconcile: those actions must not touch them.
  const staleErp = await targetOf('upsert', 'erp');
  const staleCrm = await targetOf('upsert', 'crm');
  await erp.db.pool.query(`UPDATE customers SET tax = 'changed', updated_at = now() WHERE id = $1`, [
    staleErp.target_id,
  ]);
  await crm.db.pool.query(`UPDATE customers SET phone = 'changed elsewhere' WHERE id = $1`, [
    staleCrm.target_id,
  ]);
  const touched = { erp: await erp.writes(), crm: await crm.writes() };

  const run = await world.cli(['actions', 'apply', '--tenant', T, '--yes', '--by', 'bob']);
  expect(run.code, `${run.out}\n${run.err}`).toBe(0);
  const counts = await actionCounts(db, T);
  expect(counts.failed ?? 0, run.out).toBe(0);
  expect(counts.approved ?? 0).toBe(0);
  expect(counts.skipped_stale).toBe(2);
  expect(counts.applied).toBe(approved.length - 2);
  const stale = await db.staging.pool.query(
    `SELECT id::text, error FROM control.actions WHERE tenant_id = $1 AND status = 'skipped_stale' ORDER BY id`,
    [T],
  );
  expect(stale.rows.map((r) => r.id).sort()).toEqual([staleErp.id, staleCrm.id].sort());
  expect(stale.rows.map((r) => r.error).join('\n')).toMatch(/changed in erp at .*reconciliation saw/);
  expect(stale.rows.map((r) => r.error).join('\n')).toMatch(/phone changed in crm since reconciliation/);
  // Untouched: the stale rows got no write from the apply (only the test's own update).
  expect((await erp.writes()).get(staleErp.target_id)).toBe(touched.erp.get(staleErp.target_id));
  expect((await crm.writes()).get(staleCrm.target_id)).toBe(touched.crm.get(staleCrm.target_id));
  expect((await crm.row(staleCrm.target_id))?.phone).toBe('changed elsewhere');

  // Every written row was written once; every applied action wrote one row.
  const written = [...(await crm.writes()), ...(await erp.writes())].filter(
    ([id]) => id !== staleErp.target_id && id !== staleCrm.target_id,
  );
  expect(written.every(([, n]) => n === 1)).toBe(true);
  expect(written.length).toBe(counts.applied);
  const audit = await db.staging.pool.query(
    `SELECT count(*)::int AS n FROM control.audit WHERE tenant_id = $1 AND action = 'action.apply' AND actor = 'bob'
        AND detail ? 'before' AND detail ? 'after' AND detail ? 'run' AND detail ? 'rules'`,
    [T],
  );
  expect(audit.rows[0].n).toBe(counts.applied);

  // The applied corrections come back through CDC tagged as trueup's own, and the records are equal.
  await world.sync();
  const echoes = await db.staging.pool.query(
    `SELECT count(*)::int AS n FROM staging.customer WHERE tenant_id = $1 AND raw ? '__trueup_origin'`,
    [T],
  );
  expect(echoes.rows[0].n).toBe(counts.applied);
  await world.reconcile();
  expect(await openActionable(db, T, await appliedKeys(db, T))).toEqual([]);
  const settled = await actionCounts(db, T);
  for (let cycle = 1; cycle <= 3; cycle++) {
    await world.sync();
    await world.reconcile();
    const now = await actionCounts(db, T);
    expect(now, `cycle ${cycle} proposed something new`).toEqual(settled);
  }
});

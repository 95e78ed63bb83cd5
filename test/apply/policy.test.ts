// What the tenant's policy lets the apply step do on its own: `auto_approve` within its limits
// (entities, fields, maximum money impact) — beyond them a policy approval is held until a person
// names the action (--ids); `requireDistinctApprover` — whoever accepted a discrepancy of the same
// records, or linked them by hand, neither approves nor applies their corrections; `applyAfterRun`
// applies what the policy approved, and only that. The limits are checked by the config schema.
import { afterAll, expect, it } from 'vitest';
import { applyAfterRun } from '../../pipeline/apply/apply-after-run.js';
import { validateConfig } from '../../pipeline/config/load-config.js';
import type { GeneratedRecord } from '../../pipeline/generator/ground-truth.js';
import { actionCounts, logger, openWorld, type World } from './apply-world.js';
import { type CustomerSource, customerSource, postgresSystem, useApplyDatabase } from './customer-source.js';

const db = useApplyDatabase('apply_policy');
const T = 'apply_policy';
let crm: CustomerSource;
let erp: CustomerSource;
let world: World;
afterAll(async () => {
  await world?.close();
  await crm?.db.drop();
  await erp?.db.drop();
});

const FIELDS = ['name', 'phone', 'currency', 'credit_limit'];
const rec = (sourceId: string, fields: Record<string, unknown>): GeneratedRecord => ({
  sourceId,
  version: 1n,
  fields: { currency: 'USD', credit_limit: '1000', ...fields },
  updatedAt: '2024-01-01T00:00:00Z',
});

async function statusOf(id: string): Promise<{ status: string; decided_by: string | null }> {
  const { rows } = await db.staging.pool.query(
    `SELECT status, decided_by FROM control.actions WHERE tenant_id = $1 AND id = $2`,
    [T, id],
  );
  return rows[0];
}

async function actionOn(targetId: string): Promise<string> {
  const { rows } = await db.staging.pool.query(
    `SELECT id::text FROM control.actions WHERE tenant_id = $1 AND target_id = $2 AND status = 'approved'`,
    [T, targetId],
  );
  expect(rows, `an approved action on ${targetId}`).toHaveLength(1);
  return rows[0].id;
}

it('auto_approve limits, segregation of duties and applyAfterRun', async () => {
  crm = await customerSource(
    [
      rec('C-1', { erp_ref: 'E-1', name: 'One', phone: '111' }),
      rec('C-2', { erp_ref: 'E-2', name: 'Two', phone: '2', credit_limit: '100' }),
      rec('C-3', { erp_ref: 'E-3', name: 'Three', phone: '333' }),
      rec('C-4', { name: 'Four', phone: '444' }),
    ],
    { ref: 'erp_ref', updatedAt: false, fields: FIELDS },
  );
  erp = await customerSource(
    [
      rec('E-1', { crm_ref: 'C-1', name: 'One', phone: '1' }),
      rec('E-2', { crm_ref: 'C-2', name: 'Two', phone: '2', credit_limit: '5100' }),
      rec('E-3', { crm_ref: 'C-3', name: 'Three old', phone: '3' }),
      rec('E-4', { name: 'Four', phone: '4' }),
    ],
    { ref: 'crm_ref', updatedAt: true, fields: FIELDS },
  );
  const fields = (ref: string) => ({ [ref]: 'ref', ...Object.fromEntries(FIELDS.map((f) => [f, f])) });
  world = await openWorld({
    db,
    tenant: T,
    systems: {
      crm: postgresSystem('crm', 'CRM_URL', { updatedAt: false, fields: fields('erp_ref') }),
      erp: postgresSystem('erp', 'ERP_URL', { updatedAt: true, fields: fields('crm_ref') }),
    },
    env: { CRM_URL: crm.db.url, ERP_URL: erp.db.url },
    tenantExtra: {
      entities: { customer: { match: { keys: [] } } },
      actions: {
        policy: 'auto_approve',
        limits: { entities: ['customer'], fields: ['name', 'phone'], maxMoneyImpact: '1000' },
        requireDistinctApprover: true,
        applyAfterRun: true,
      },
    },
  });
  await world.sync();
  await world.reconcile();
  const a1 = await actionOn('E-1'); // phone: within the limits
  const a2 = await actionOn('C-2'); // credit limit 5000 apart: beyond them
  expect(await statusOf(a2)).toEqual({ status: 'approved', decided_by: 'policy:auto_approve' });

  // Pair 3: carol accepts the phone difference (its upsert is withdrawn; the next run proposes the
  // name alone); pair 4: dave links the records by hand.
  const disc = await db.staging.pool.query(
    `SELECT id::text FROM control.discrepancies WHERE tenant_id = $1 AND match_key = 'C:C-3|E:E-3' AND field = 'phone'`,
    [T],
  );
  const accept = await world.cli([
    'discrepancies',
    'accept',
    '--tenant',
    T,
    '--by',
    'carol',
    '--reason',
    'known',
    disc.rows[0].id,
  ]);
  expect(accept.code, accept.err).toBe(0);
  const link = await world.cli([
    'xref',
    'link',
    '--tenant',
    T,
    '--entity',
    'customer',
    '--crm',
    'C-4',
    '--erp',
    'E-4',
    '--by',
    'dave',
  ]);
  expect(link.code, link.err).toBe(0);
  await world.reconcile('full');
  const a3 = await actionOn('E-3');
  const a4 = await actionOn('E-4');

  const dry = await world.cli(['actions', 'apply', '--tenant', T, '--by', 'carol']);
  expect(dry.out).toMatch(
    new RegExp(
      `${a2}: approved by the policy beyond its limits \\(field credit_limit not among name, phone; money impact 5000(\\.0+)? is above 1000\\); a person applies it by naming it \\(--ids ${a2}\\)`,
    ),
  );
  expect(dry.out).toContain(
    `${a3}: segregation of duties: carol applies it and also accepted a discrepancy of these records or linked them`,
  );
  // dave linked pair 4: naming its policy approval would make him its approver.
  const byDave = await world.cli(['actions', 'apply', '--tenant', T, '--by', 'dave', '--ids', a4]);
  expect(byDave.out).toContain(
    `${a4}: segregation of duties: dave approved it and also accepted a discrepancy of these records or linked them`,
  );

  // The scheduled run's apply: what the policy approved within its limits, by the policy.
  const scheduled = await applyAfterRun({ staging: db.staging, logger, tenant: T, config: world.config });
  expect(scheduled?.counts).toEqual({ applied: 3, held: 1 });
  for (const id of [a1, a3, a4]) expect((await statusOf(id)).status).toBe('applied');
  expect((await statusOf(a2)).status).toBe('approved');

  // A person names the held one: applied, audited as theirs.
  const byBob = await world.cli(['actions', 'apply', '--tenant', T, '--yes', '--by', 'bob', '--ids', a2]);
  expect(byBob.code, byBob.out).toBe(0);
  expect(await actionCounts(db, T)).toMatchObject({ applied: 4 });
  const audit = await db.staging.pool.query(
    `SELECT actor FROM control.audit WHERE tenant_id = $1 AND action = 'action.apply' AND subject = $2`,
    [T, `action:${a2}`],
  );
  expect(audit.rows).toEqual([{ actor: 'bob' }]);
  expect((await crm.row('C-2'))?.credit_limit).toBe('5100');
});

it('the limits are part of the checked tenant config', () => {
  const bad = () =>
    validateConfig(
      {
        tenants: {
          t: {
            systems: {
              crm: { kind: 'csv', role: 'crm', dropDir: '/tmp/c' },
              erp: { kind: 'csv', role: 'erp', dropDir: '/tmp/e' },
            },
            actions: { policy: 'auto_approve', limits: { fields: ['nmae'], maxMoneyImpact: '1e3' } },
          },
        },
      },
      'trueup.yaml',
      {},
    );
  expect(bad).toThrow(/actions\.limits\.fields\.0.*no entity has this canonical field/s);
  expect(bad).toThrow(/actions\.limits\.maxMoneyImpact.*decimal/s);
});

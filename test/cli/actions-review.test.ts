// `trueup actions list|approve|reject` end to end through the CLI on hand-made records: the list
// and its filters; approvals and rejections all or nothing, audited; a decision survives later
// runs that propose the same correction again; decisions wait for the run's write and for an
// apply step holding the rows, and refuse what changed meanwhile; usage errors exit 2.
import { expect, it } from 'vitest';
import type { ActionView } from '../../staging/control/actions.js';
import { clientDb } from '../../staging/control/control-db.js';
import { lockEntityResults } from '../../staging/control/entity-results-lock.js';
import { stageRows } from '../reconcilers/helpers.js';
import { cliWorld } from './cli-world.js';

const ACTIONS = { actions: { policy: 'propose', createMissing: true } };
const TENANTS = ['lst', 'dec', 'rerun', 'lock'];
const world = cliWorld('cli_actions', TENANTS, ACTIONS);
const { cli, run } = world;

interface Row {
  id: string;
  target: string;
  status: string;
  decided_by: string | null;
  decided: boolean;
  error: string | null;
}

async function actions(t: string): Promise<Row[]> {
  const { rows } = await world.db.staging.pool.query<Row>(
    `SELECT id::text, target_system || ':' || coalesce(target_id, 'new') AS target, status, decided_by,
            decided_at IS NOT NULL AS decided, error
       FROM control.actions WHERE tenant_id = $1 ORDER BY target_system, target_id, id`,
    [t],
  );
  return rows;
}

/** Action ids by target (`erp:E1`, `crm:new`). */
const idsByTarget = async (t: string) => new Map((await actions(t)).map((a) => [a.target, a.id]));

async function audit(t: string) {
  const { rows } = await world.db.staging.pool.query(
    `SELECT actor, action, subject, detail FROM control.audit WHERE tenant_id = $1 AND action LIKE 'action.%' ORDER BY id`,
    [t],
  );
  return rows;
}

const decide = (verb: 'approve' | 'reject', t: string, ids: string[], ...extra: string[]) =>
  cli(['actions', verb, '--tenant', t, '--by', 'alice', ...extra, ...ids]);

it('lists actions with their fields, explanation and decision, filtered by status, entity and target', async () => {
  const t = 'lst';
  await stageRows(world.db, t, 'crm', 'customer', [
    { id: 'C1', erp_ref: 'E1', name: 'Acme\u001b[31m', phone: '111' },
    { id: 'C2', erp_ref: 'E2', name: 'Beta', credit_limit: '100.00' },
    { id: 'X1', name: 'Lone in the CRM' },
  ]);
  await stageRows(world.db, t, 'erp', 'customer', [
    { id: 'E1', name: 'Acme Holding', phone: '999' },
    { id: 'E2', name: 'Beta', credit_limit: '250.00' },
  ]);
  await run(t);

  const text = await cli(['actions', 'list', '--tenant', t]);
  expect(text.code).toBe(0);
  const lines = text.out.trimEnd().split('\n');
  expect(lines[0]).toMatch(
    /^id\s+entity\s+kind\s+target\s+sets\s+why\s+observed\s+status\s+decided\s+error$/,
  );
  expect(lines).toHaveLength(2 + 3);
  // The CRM's name wins in the ERP (owner: crm), with its control character escaped, never raw.
  const e1 = lines.find((l) => l.includes('erp:E1'))!;
  expect(e1).toContain('name = Acme\\u001b[31m; phone = 111');
  expect(e1).toContain('name: owner → crm; phone: owner → crm');
  expect(text.out).not.toContain('\u001b');
  // The ERP owns the credit limit: the CRM is corrected.
  expect(lines.find((l) => l.includes('crm:C2'))).toMatch(
    /credit_limit = 250\s+credit_limit: owner → erp\s+1\s+proposed/,
  );
  expect(lines.find((l) => l.includes('(new from crm:X1)'))).toMatch(
    /create\s+erp:\(new from crm:X1\)\s+name = Lone in the CRM; crm_ref = X1\s+missing in erp/,
  );

  const json = await cli(['actions', 'list', '--tenant', t, '--json']);
  const all = JSON.parse(json.out) as ActionView[];
  // Oldest first: by id.
  expect(all.map((a) => a.id)).toEqual([...all.map((a) => a.id)].sort((a, b) => Number(a) - Number(b)));
  const create = all.find((a) => a.kind === 'create')!;
  expect(create).toMatchObject({
    entity: 'customer',
    targetSystem: 'erp',
    targetId: null,
    fields: { name: 'Lone in the CRM', crm_ref: 'X1' },
    explanation: { reason: 'missing in erp', source: { system: 'crm', id: 'X1' } },
    observedVersion: null,
    status: 'proposed',
    decidedBy: null,
  });
  expect(all.find((a) => a.targetId === 'E1')!.explanation.fields).toEqual([
    expect.objectContaining({
      field: 'name',
      rule: 'owner',
      winner: 'crm',
      crm: 'Acme\u001b[31m',
      erp: 'Acme Holding',
    }),
    expect.objectContaining({ field: 'phone', winner: 'crm' }),
  ]);

  const byTarget = await idsByTarget(t);
  expect((await decide('reject', t, [byTarget.get('crm:C2')!], '--reason', 'ERP limit is a typo')).code).toBe(
    0,
  );
  const listed = async (...extra: string[]) =>
    (JSON.parse((await cli(['actions', 'list', '--tenant', t, '--json', ...extra])).out) as ActionView[]).map(
      (a) => `${a.targetSystem}:${a.targetId ?? 'new'} ${a.status}`,
    );
  expect(await listed()).toEqual(['erp:E1 proposed', 'erp:new proposed']);
  expect(await listed('--status', 'all')).toEqual(['erp:E1 proposed', 'crm:C2 rejected', 'erp:new proposed']);
  expect(await listed('--status', 'rejected')).toEqual(['crm:C2 rejected']);
  expect(await listed('--status', 'all', '--target', 'crm')).toEqual(['crm:C2 rejected']);
  expect(await listed('--status', 'all', '--entity', 'invoice')).toEqual([]);
  expect(await listed('--status', 'all', '--limit', '1')).toEqual(['erp:E1 proposed']);
  // Who decided, when and why.
  const rejected = await cli(['actions', 'list', '--tenant', t, '--status', 'rejected']);
  expect(rejected.out).toMatch(/rejected\s+alice \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d: ERP limit is a typo/);
  expect((await cli(['actions', 'list', '--tenant', t, '--limit', '1'])).out).toMatch(
    /\(first 1; more match/,
  );
  expect((await cli(['actions', 'list', '--tenant', t, '--entity', 'invoice'])).out).toContain('(none)');
});

it('approves and rejects all or nothing, audited', async () => {
  const t = 'dec';
  await stageRows(world.db, t, 'crm', 'customer', [
    { id: 'C1', erp_ref: 'E1', name: 'Acme' },
    { id: 'C2', erp_ref: 'E2', name: 'Beta' },
    { id: 'C3', erp_ref: 'E3', name: 'Gamma' },
    { id: 'C4', erp_ref: 'E4', name: 'Delta' },
  ]);
  await stageRows(world.db, t, 'erp', 'customer', [
    { id: 'E1', name: 'Acme Holding' },
    { id: 'E2', name: 'Beta Holding' },
    { id: 'E3', name: 'Gamma Holding' },
    { id: 'E4', name: 'Delta Holding' },
  ]);
  await run(t);
  const id = await idsByTarget(t);
  const [e1, e2, e3, e4] = ['erp:E1', 'erp:E2', 'erp:E3', 'erp:E4'].map((k) => id.get(k)!);
  // An apply step already wrote E4's correction.
  await world.db.staging.pool.query(
    `UPDATE control.actions SET status = 'applied', applied_at = now() WHERE tenant_id = $1 AND id = $2`,
    [t, e4],
  );

  const approved = await decide('approve', t, [e1!, e2!, e1!]);
  expect(approved).toMatchObject({ code: 0, out: `approved 2 actions of dec (by alice): ${e1}, ${e2}\n` });
  // Approve only proposed ones: one already approved, one applied and an unknown id decide none.
  const bad = await decide('approve', t, [e3!, e1!, e4!, '999999'], '--reason', 'ok');
  expect(bad.code).toBe(1);
  expect(bad.out).toBe('');
  expect(bad.err).toContain(
    `tenant dec: no action 999999; not proposed: ${e1} (approved), ${e4} (applied) — nothing was approved`,
  );
  // Reject a proposed and an approved one; an applied one cannot be rejected.
  const badReject = await decide('reject', t, [e3!, e4!], '--reason', 'no');
  expect(badReject.code).toBe(1);
  expect(badReject.err).toContain(`not proposed or approved: ${e4} (applied) — nothing was rejected`);
  expect((await actions(t)).map((a) => `${a.target} ${a.status} ${a.decided_by ?? '-'}`)).toEqual([
    'erp:E1 approved alice',
    'erp:E2 approved alice',
    'erp:E3 proposed -',
    'erp:E4 applied -',
  ]);
  const rejected = await cli([
    'actions',
    'reject',
    '--tenant',
    t,
    '--by',
    ' bob ',
    '--reason',
    'the ERP name is the legal one',
    '--json',
    e2!,
    e3!,
  ]);
  expect(rejected.code).toBe(0);
  const json = JSON.parse(rejected.out) as { rejected: ActionView[] };
  expect(json.rejected.map((a) => [a.id, a.status, a.decidedBy, a.decisionReason])).toEqual([
    [e2, 'rejected', 'bob', 'the ERP name is the legal one'],
    [e3, 'rejected', 'bob', 'the ERP name is the legal one'],
  ]);
  // A rejected action cannot be approved or rejected again.
  const again = await decide('reject', t, [e3!], '--reason', 'x');
  expect(again.err).toContain(`not proposed or approved: ${e3} (rejected)`);
  expect((await decide('approve', t, [e3!])).code).toBe(1);

  const rows = await audit(t);
  expect(rows.map((r) => `${r.actor} ${r.action} ${r.subject}`)).toEqual([
    `alice action.approve action:${e1}`,
    `alice action.approve action:${e2}`,
    `bob action.reject action:${e2}`,
    `bob action.reject action:${e3}`,
  ]);
  expect(rows[0].detail).toEqual({
    entity: 'customer',
    kind: 'upsert',
    targetSystem: 'erp',
    targetId: 'E1',
    fields: { name: 'Acme' },
    observedVersion: '1',
    matchKey: 'C:C1|E:E1',
    source: null,
    reason: null,
    previousStatus: 'proposed',
    previousDecidedBy: null,
    newStatus: 'approved',
  });
  expect(rows[2].detail).toMatchObject({
    reason: 'the ERP name is the legal one',
    previousStatus: 'approved',
    previousDecidedBy: 'alice',
    newStatus: 'rejected',
  });
});

it('a later run leaves rejected and approved actions as they are; an approval lapses when the data moves on', async () => {
  const t = 'rerun';
  await stageRows(world.db, t, 'crm', 'customer', [
    { id: 'C1', erp_ref: 'E1', name: 'Acme' },
    { id: 'C2', erp_ref: 'E2', name: 'Beta' },
    { id: 'C3', erp_ref: 'E3', name: 'Gamma' },
  ]);
  await stageRows(world.db, t, 'erp', 'customer', [
    { id: 'E1', name: 'Acme Holding' },
    { id: 'E2', name: 'Beta Holding' },
    { id: 'E3', name: 'Gamma Holding' },
  ]);
  await run(t);
  const id = await idsByTarget(t);
  expect((await decide('reject', t, [id.get('erp:E1')!], '--reason', 'ERP is right')).code).toBe(0);
  expect((await decide('approve', t, [id.get('erp:E2')!, id.get('erp:E3')!])).code).toBe(0);
  const decided = await actions(t);

  // The same corrections of the same observed versions: the same idempotency keys.
  await run(t);
  await run(t);
  expect(await actions(t)).toEqual(decided);
  expect(decided.map((a) => `${a.target} ${a.status} ${a.decided_by}`)).toEqual([
    'erp:E1 rejected alice',
    'erp:E2 approved alice',
    'erp:E3 approved alice',
  ]);

  // E3 changes in the ERP: the approval covered the correction of version 1, which is stale now;
  // the correction of version 2 is a new proposal. The rejection and E2's approval stay.
  await stageRows(world.db, t, 'erp', 'customer', [{ id: 'E3', name: 'Gamma Group' }], { version: 2n });
  await run(t);
  expect((await actions(t)).map((a) => `${a.target} ${a.status} ${a.decided_by ?? '-'}`)).toEqual([
    'erp:E1 rejected alice',
    'erp:E2 approved alice',
    'erp:E3 skipped_stale alice',
    'erp:E3 proposed -',
  ]);
  // A stale approval cannot be rejected or approved any more.
  const stale = await decide('reject', t, [id.get('erp:E3')!], '--reason', 'late');
  expect(stale.code).toBe(1);
  expect(stale.err).toContain('(skipped_stale)');
});

it('waits for a run’s write and for an apply step holding the rows, and refuses what changed meanwhile', async () => {
  const t = 'lock';
  await stageRows(world.db, t, 'crm', 'customer', [
    { id: 'C1', erp_ref: 'E1', name: 'Acme' },
    { id: 'C2', erp_ref: 'E2', name: 'Beta' },
  ]);
  await stageRows(world.db, t, 'erp', 'customer', [
    { id: 'E1', name: 'Acme Holding' },
    { id: 'E2', name: 'Beta Holding' },
  ]);
  await run(t);
  const id = await idsByTarget(t);
  const settled = (p: Promise<unknown>) =>
    Promise.race([p.then(() => true), new Promise((r) => setTimeout(() => r(false), 300))]);

  const client = await world.db.staging.pool.connect();
  try {
    // A run writing its results holds the tenant × entity lock (lifecycle/write-results.ts).
    await client.query('BEGIN');
    await lockEntityResults(clientDb(client), t, 'customer');
    const approving = decide('approve', t, [id.get('erp:E1')!]);
    expect(await settled(approving)).toBe(false);
    await client.query('COMMIT');
    expect((await approving).code).toBe(0);

    // An apply step holds E1 and E2, and writes E2 back before committing.
    await client.query('BEGIN');
    await client.query(
      `SELECT id FROM control.actions WHERE tenant_id = $1 AND id = ANY($2::bigint[]) FOR UPDATE`,
      [t, [id.get('erp:E1'), id.get('erp:E2')]],
    );
    const rejecting = decide('reject', t, [id.get('erp:E1')!, id.get('erp:E2')!], '--reason', 'stop');
    expect(await settled(rejecting)).toBe(false);
    await client.query(
      `UPDATE control.actions SET status = 'applied', applied_at = now() WHERE tenant_id = $1 AND id = $2`,
      [t, id.get('erp:E2')],
    );
    await client.query('COMMIT');
    const r = await rejecting;
    expect(r.code).toBe(1);
    expect(r.err).toContain(`not proposed or approved: ${id.get('erp:E2')} (applied) — nothing was rejected`);
  } finally {
    await client.query('ROLLBACK').catch(() => {});
    client.release();
  }
  expect((await actions(t)).map((a) => `${a.target} ${a.status}`)).toEqual([
    'erp:E1 approved',
    'erp:E2 applied',
  ]);
});

it('usage errors exit 2 before anything is decided', async () => {
  const t = 'dec';
  const cases: [string[], RegExp][] = [
    [['actions', 'list', '--tenant', 'Bad Tenant'], /is not a tenant id/],
    [['actions', 'list', '--tenant', 'nope'], /unknown tenant 'nope' \(configured: dec, lock, lst, rerun\)/],
    [['actions', 'list', '--tenant', t, '--status', 'open'], /--status must be one of proposed, approved/],
    [['actions', 'list', '--tenant', t, '--entity', 'widget'], /unknown entity "widget"/],
    [
      ['actions', 'list', '--tenant', t, '--target', 'salesforce'],
      /not a system of tenant dec \(configured: crm, erp\)/,
    ],
    [['actions', 'list', '--tenant', t, '--limit', '0'], /--limit must be a positive whole number/],
    [
      ['actions', 'approve', '--tenant', t, '--by', 'alice', 'x1'],
      /action ids are positive whole numbers, not "x1"/,
    ],
    [
      ['actions', 'approve', '--tenant', t, '--by', 'alice', '99999999999999999999'],
      /positive whole numbers/,
    ],
    [['actions', 'approve', '--tenant', t, '--by', '  ', '1'], /--by must name who approves/],
    [['actions', 'approve', '--tenant', t, '--by', 'alice', '--reason', ' ', '1'], /--reason must say why/],
    [['actions', 'reject', '--tenant', t, '--by', 'alice', '--reason', '', '1'], /--reason must say why/],
    [['actions', 'reject', '--tenant', 'Bad!', '--by', 'a', '--reason', 'b', '1'], /is not a tenant id/],
    [['actions', 'reject', '--tenant', 'nope', '--by', 'a', '--reason', 'b', '1'], /unknown tenant 'nope'/],
  ];
  const before = await actions(t);
  for (const [args, message] of cases) {
    const r = await cli(args);
    expect({ args, code: r.code, out: r.out }).toEqual({ args, code: 2, out: '' });
    expect(r.err).toMatch(message);
  }
  // Commander's own checks: a rejection without --reason, a decision without ids.
  expect((await cli(['actions', 'reject', '--tenant', t, '--by', 'alice', '1'])).code).toBe(2);
  expect((await cli(['actions', 'approve', '--tenant', t, '--by', 'alice'])).code).toBe(2);
  expect(await actions(t)).toEqual(before);
  expect((await cli(['actions', 'approve', '--help'])).code).toBe(0);
});

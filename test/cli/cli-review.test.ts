// Review gaps of the reviewer-facing commands, end to end through the CLI on hand-made records:
// `discrepancies accept` withdraws the undecided actions of what it accepts (audited, decided
// actions untouched, a withdrawn correction still comes back when its difference does);
// `xref link` turns a key-match link into a manual one and refuses records staging has never
// seen unless --allow-missing; an unknown --tenant is a usage error (exit 2) for status, xref
// and discrepancies.
import { expect, it } from 'vitest';
import { stageRows } from '../reconcilers/helpers.js';
import { cliWorld } from './cli-world.js';

const ACTIONS = { actions: { policy: 'propose', createMissing: true } };
const TENANTS = ['acc', 'rev', 'lnk'];
const world = cliWorld('cli_review', TENANTS, ACTIONS);
const { cli, run } = world;

interface ActionRow {
  id: string;
  target: string;
  kind: string;
  fields: Record<string, unknown>;
  status: string;
  error: string | null;
}

async function actions(t: string): Promise<ActionRow[]> {
  const { rows } = await world.db.staging.pool.query<ActionRow>(
    `SELECT id::text, target_system || ':' || coalesce(target_id, '(new from ' || (explanation->'source'->>'id') || ')') AS target,
            kind, fields, status, error
       FROM control.actions WHERE tenant_id = $1 ORDER BY id`,
    [t],
  );
  return rows;
}

/** Discrepancy ids by `class match_key field`. */
async function discrepancyIds(t: string): Promise<Map<string, string>> {
  const { rows } = await world.db.staging.pool.query<{ k: string; id: string }>(
    `SELECT class || ' ' || match_key || ' ' || field AS k, id::text FROM control.discrepancies WHERE tenant_id = $1`,
    [t],
  );
  return new Map(rows.map((r) => [r.k.trim(), r.id]));
}

const accept = (t: string, ids: string[], extra: string[] = []) =>
  cli([
    'discrepancies',
    'accept',
    '--tenant',
    t,
    '--by',
    'alice',
    '--reason',
    'agreed with finance',
    ...extra,
    ...ids,
  ]);

it('accepting withdraws the undecided actions of the accepted discrepancies; decided ones stay', async () => {
  const t = 'acc';
  await stageRows(world.db, t, 'crm', 'customer', [
    { id: 'C1', erp_ref: 'E1', name: 'Acme', phone: '111' },
    { id: 'C2', erp_ref: 'E2', name: 'Beta' },
    { id: 'C4', erp_ref: 'E4', name: 'Delta' },
    { id: 'C5', erp_ref: 'E5', name: 'Echo' },
    { id: 'X1', name: 'Lone in the CRM' },
  ]);
  await stageRows(world.db, t, 'erp', 'customer', [
    { id: 'E1', name: 'Acme Holding', phone: '999' },
    { id: 'E2', name: 'Beta Holding' },
    { id: 'E4', name: 'Delta Holding' },
    { id: 'E5', name: 'Echo Holding' },
    // The same source id in the ERP: its create action must not be taken for the CRM one's.
    { id: 'X1', name: 'Lone in the ERP' },
  ]);
  await run(t);
  const before = await actions(t);
  expect(before.map((a) => `${a.target} ${a.kind} ${a.status}`).sort()).toEqual([
    'crm:(new from X1) create proposed',
    'erp:(new from X1) create proposed',
    'erp:E1 upsert proposed',
    'erp:E2 upsert proposed',
    'erp:E4 upsert proposed',
    'erp:E5 upsert proposed',
  ]);
  const byTarget = new Map(before.map((a) => [a.target, a]));
  // A reviewer approved the correction of E2 and rejected the one of E4.
  await world.db.staging.pool.query(
    `UPDATE control.actions SET status = CASE target_id WHEN 'E2' THEN 'approved' ELSE 'rejected' END,
            decided_by = 'bob', decided_at = now()
      WHERE tenant_id = $1 AND target_id IN ('E2', 'E4')`,
    [t],
  );
  const ids = await discrepancyIds(t);
  const id = (k: string) => {
    const v = ids.get(k);
    expect(v, k).toBeDefined();
    return v!;
  };

  // One discrepancy, text output: its approved (not yet applied) action is withdrawn.
  const one = await accept(t, [id('field_mismatch C:C2|E:E2 name')]);
  expect(one.code).toBe(0);
  expect(one.out).toMatch(/accepted 1 discrepancy of acc \(by alice\): \d+; withdrew 1 undecided action/);

  // Several, JSON: the name of E1 (its action also sets the phone: withdrawn whole), the rejected
  // E4 (never touched) and the CRM's lone X1 (its create into the ERP).
  const many = await accept(
    t,
    [id('field_mismatch C:C1|E:E1 name'), id('field_mismatch C:C4|E:E4 name'), id('missing_in_erp C:X1')],
    ['--json'],
  );
  expect(many.code).toBe(0);
  const json = JSON.parse(many.out) as {
    accepted: { id: string }[];
    actionsWithdrawn: number;
    withdrawnActionIds: string[];
  };
  expect(json.accepted).toHaveLength(3);
  expect(json.actionsWithdrawn).toBe(2);
  expect(json.withdrawnActionIds.sort()).toEqual(
    [byTarget.get('erp:E1')!.id, byTarget.get('erp:(new from X1)')!.id].sort(),
  );

  const after = new Map((await actions(t)).map((a) => [a.target, a]));
  expect(Object.fromEntries([...after].map(([k, a]) => [k, a.status]))).toEqual({
    'erp:E1': 'skipped_stale',
    'erp:E2': 'skipped_stale',
    'erp:E4': 'rejected',
    'erp:E5': 'proposed',
    'erp:(new from X1)': 'skipped_stale',
    'crm:(new from X1)': 'proposed',
  });
  expect(after.get('erp:E1')!.error).toMatch(/accepted by alice/);

  // Audited like the acceptance: one row per withdrawn action, naming the discrepancies.
  const audit = await world.db.staging.pool.query(
    `SELECT actor, subject, detail FROM control.audit WHERE tenant_id = $1 AND action = 'action.withdraw' ORDER BY id`,
    [t],
  );
  expect(audit.rows.map((r) => r.subject).sort()).toEqual(
    ['erp:E2', 'erp:E1', 'erp:(new from X1)'].map((k) => `action:${byTarget.get(k)!.id}`).sort(),
  );
  expect(audit.rows.find((r) => r.subject === `action:${byTarget.get('erp:E2')!.id}`)).toMatchObject({
    actor: 'alice',
    detail: {
      discrepancies: [id('field_mismatch C:C2|E:E2 name')],
      previousStatus: 'approved',
      reason: 'agreed with finance',
    },
  });
  const acc = await world.db.staging.pool.query(
    `SELECT detail FROM control.audit WHERE tenant_id = $1 AND action = 'discrepancy.accept' AND subject = $2`,
    [t, `discrepancy:${id('field_mismatch C:C1|E:E1 name')}`],
  );
  expect(acc.rows[0]?.detail.withdrawnActions).toEqual([byTarget.get('erp:E1')!.id]);

  // The next run corrects only what was not accepted: E1's phone, alone.
  await run(t);
  const next = await actions(t);
  expect(next.filter((a) => a.status === 'proposed').map((a) => [a.target, a.fields])).toEqual([
    ['erp:E5', { name: 'Echo' }],
    ['crm:(new from X1)', expect.objectContaining({ name: 'Lone in the ERP' })],
    ['erp:E1', { phone: '111' }],
  ]);
});

it('a withdrawn correction comes back when its discrepancy resolves and returns', async () => {
  const t = 'rev';
  await stageRows(world.db, t, 'crm', 'customer', [{ id: 'C1', erp_ref: 'E1', name: 'Acme' }]);
  await stageRows(world.db, t, 'erp', 'customer', [{ id: 'E1', name: 'Acme Holding' }]);
  await run(t);
  const ids = await discrepancyIds(t);
  expect((await accept(t, [ids.get('field_mismatch C:C1|E:E1 name')!])).code).toBe(0);
  expect((await actions(t)).map((a) => a.status)).toEqual(['skipped_stale']);
  // The CRM takes the ERP's name (resolved), then goes back: the same correction of the same
  // observed ERP version is needed again, and the discrepancy is open, not accepted.
  await stageRows(world.db, t, 'crm', 'customer', [{ id: 'C1', erp_ref: 'E1', name: 'Acme Holding' }], {
    version: 2n,
  });
  await run(t);
  await stageRows(world.db, t, 'crm', 'customer', [{ id: 'C1', erp_ref: 'E1', name: 'Acme' }], {
    version: 3n,
  });
  await run(t);
  expect((await actions(t)).map((a) => `${a.target} ${a.status} ${JSON.stringify(a.fields)}`)).toEqual([
    'erp:E1 proposed {"name":"Acme"}',
  ]);
});

it('xref link makes a key-match link manual and refuses records staging never saw', async () => {
  const t = 'lnk';
  await stageRows(world.db, t, 'crm', 'customer', [
    { id: 'C1', name: 'Acme' },
    { id: 'C2', name: 'Beta' },
  ]);
  await stageRows(world.db, t, 'crm', 'customer', [{ id: 'C2' }], { version: 2n, op: 'delete' });
  await stageRows(world.db, t, 'erp', 'customer', [{ id: 'E1', name: 'Acme' }]);
  await world.db.staging.pool.query(
    `INSERT INTO control.xref (tenant_id, entity, crm_system, crm_id, erp_system, erp_id, origin, created_by, created_at)
     VALUES ($1, 'customer', 'crm', 'C1', 'erp', 'E1', 'key_match', 'reconcile r1', '2020-01-01')`,
    [t],
  );
  const link = (crm: string, erp: string, ...extra: string[]) =>
    cli([
      'xref',
      'link',
      '--tenant',
      t,
      '--entity',
      'customer',
      '--crm',
      crm,
      '--erp',
      erp,
      '--by',
      'bob',
      ...extra,
    ]);
  const links = async () =>
    (
      await world.db.staging.pool.query(
        `SELECT crm_id, erp_id, origin, created_by, created_at > now() - interval '1 hour' AS recent
           FROM control.xref WHERE tenant_id = $1 ORDER BY crm_id, erp_id`,
        [t],
      )
    ).rows;

  const made = await link('C1', 'E1');
  expect(made.code).toBe(0);
  expect(made.out).toMatch(/was key_match, now manual/);
  expect(await links()).toEqual([
    { crm_id: 'C1', erp_id: 'E1', origin: 'manual', created_by: 'bob', recent: true },
  ]);

  // E404 was never staged; C1 exists in the CRM only, not as an ERP record.
  const missing = await link('C404', 'C1');
  expect(missing.code).toBe(1);
  expect(missing.err).toMatch(/tenant lnk, entity customer: no record crm C404, erp C1 in staging/);
  expect(missing.err).toMatch(/--allow-missing/);
  const oneMissing = await link('C1', 'E404');
  expect(oneMissing.code).toBe(1);
  expect(oneMissing.err).toMatch(/no record erp E404 in staging/);
  // A tombstoned record was staged: it can be linked.
  expect((await link('C2', 'E1')).code).toBe(0);
  // A record may be linked before it is first extracted.
  expect((await link('C404', 'E404', '--allow-missing')).code).toBe(0);
  expect((await links()).map((l) => `${l.crm_id}-${l.erp_id} ${l.origin}`)).toEqual([
    'C1-E1 manual',
    'C2-E1 manual',
    'C404-E404 manual',
  ]);
});

it('an unknown --tenant is a usage error for status, xref and discrepancies', async () => {
  const message = "unknown tenant 'nope' (configured: acc, lnk, rev)";
  for (const args of [
    ['status', '--tenant', 'nope'],
    ['status', '--tenant', 'nope', '--json'],
    ['xref', 'list', '--tenant', 'nope', '--entity', 'customer'],
    ['xref', 'link', '--tenant', 'nope', '--entity', 'customer', '--crm', 'a', '--erp', 'b'],
    ['discrepancies', 'list', '--tenant', 'nope'],
    ['discrepancies', 'accept', '--tenant', 'nope', '--by', 'a', '--reason', 'b', '1'],
  ]) {
    const r = await cli(args);
    expect({ args, code: r.code, out: r.out }).toEqual({ args, code: 2, out: '' });
    expect(r.err).toContain(message);
  }
  expect((await cli(['status', '--tenant', 'acc'])).code).toBe(0);
  expect((await cli(['xref', 'list', '--tenant', 'lnk', '--entity', 'customer'])).code).toBe(0);
});

// Many-to-one links (`tenants.<t>.entities.<e>.match.allowMany`): several CRM records linked to
// one ERP record are each compared with it instead of being a duplicate_match; without the key,
// or for the other side, they still are one. Full and incremental runs agree. References to such
// records are judged through every link (an invoice of any of the CRM records matches the ERP one).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import {
  csvTenantConfig,
  dataDir,
  invoiceRow,
  openKeys,
  reconcile,
  removeDataDirs,
  stageRows,
} from './helpers.js';

const db = useTestDatabase('recon_m2o');
let dir: string;
beforeAll(async () => {
  dir = await dataDir();
});
afterAll(async () => {
  await removeDataDirs();
});

async function seed(t: string) {
  // C1, C2 and C3 all name E1 (C3 by a business key); C4 names E2 and E3 (two ERP records).
  await stageRows(db, t, 'crm', 'customer', [
    { id: 'C1', erp_ref: 'E1', name: 'Acme', credit_limit: '100', email: 'ap@acme.test' },
    { id: 'C2', erp_ref: 'E1', name: 'Acme Sales', credit_limit: '100', email: 'ap@acme.test' },
    { id: 'C3', name: 'Acme', credit_limit: '100', email: 'ap@acme.test' },
    { id: 'C4', name: 'Globex', credit_limit: '5' },
  ]);
  await stageRows(db, t, 'erp', 'customer', [
    { id: 'E1', name: 'Acme', credit_limit: '100', email: 'ap@acme.test' },
    { id: 'E2', crm_ref: 'C4', name: 'Globex', credit_limit: '5' },
    { id: 'E3', crm_ref: 'C4', name: 'Globex', credit_limit: '5' },
  ]);
}
const keys = { match: { keys: [{ field: 'email', normalise: 'email' }] } };

const manyConfig = (t: string) =>
  csvTenantConfig(t, {
    actions: { policy: 'propose' },
    entities: {
      customer: {
        ...keys,
        match: { ...keys.match, allowMany: 'crm' },
        survivorship: { credit_limit: { rule: 'owner', owner: 'crm' } },
      },
    },
  });

it('links several CRM records to one ERP record where match.allowMany is crm', async () => {
  const t = 'many';
  await seed(t);
  const s = await reconcile(db, dir, t, manyConfig(t), { entities: ['customer'], mode: 'full' });
  expect(s.errors).toEqual([]);
  // C1/E1 equal; C2/E1 differs in name; C3 finds E1 by email although C1 and C2 claimed it
  // already. C4 has two ERP partners: the CRM side is not the "one" side, still a duplicate.
  expect(await openKeys(db, t)).toEqual([
    'customer duplicate_match C:C4 ',
    'customer field_mismatch C:C2|E:E1 name',
  ]);
  expect(
    (
      await db.staging.pool.query(
        `SELECT crm_id FROM control.xref WHERE tenant_id = $1 AND erp_id = 'E1' AND origin = 'key_match'`,
        [t],
      )
    ).rows,
  ).toEqual([{ crm_id: 'C3' }]);
});

// Needs the pair-level join in compare/diff-pairs.ts (prep rows per pair, not per record) and one
// action for identical corrections in actions/plan-actions.ts: see helper X's report.
it('compares the one ERP record with each of its differing CRM records; identical corrections are one action', async () => {
  const t = 'manydiff';
  await seed(t);
  const cfg = manyConfig(t);
  expect((await reconcile(db, dir, t, cfg, { entities: ['customer'], mode: 'full' })).errors).toEqual([]);
  // An incremental run after a change on the ERP record compares it with each of its CRM records.
  await stageRows(
    db,
    t,
    'erp',
    'customer',
    [{ id: 'E1', name: 'Acme', credit_limit: '150', email: 'ap@acme.test' }],
    {
      version: 2n,
    },
  );
  const inc = await reconcile(db, dir, t, cfg, { entities: ['customer'], mode: 'incremental' });
  expect(inc.errors).toEqual([]);
  expect(await openKeys(db, t)).toEqual([
    'customer duplicate_match C:C4 ',
    'customer field_mismatch C:C1|E:E1 credit_limit',
    'customer field_mismatch C:C2|E:E1 credit_limit',
    'customer field_mismatch C:C2|E:E1 name',
    'customer field_mismatch C:C3|E:E1 credit_limit',
  ]);
  // The CRM owns credit_limit: C1 and C3 ask E1 for the same correction (one action); C2's
  // also carries its name (name is CRM-owned too), a different proposal for a reviewer.
  const actions = await db.staging.pool.query(
    `SELECT fields FROM control.actions WHERE tenant_id = $1 AND target_id = 'E1' AND status = 'proposed'
      ORDER BY fields::text`,
    [t],
  );
  expect(actions.rows.map((r) => r.fields)).toEqual([
    { credit_limit: '100' },
    { credit_limit: '100', name: 'Acme Sales' },
  ]);
});

it('several CRM records for one ERP record are a duplicate_match without the key, or with allowMany erp', async () => {
  for (const [t, extra] of [
    ['one', {}],
    ['erpmany', { entities: { customer: { match: { allowMany: 'erp' } } } }],
  ] as const) {
    await seed(t);
    const s = await reconcile(db, dir, t, csvTenantConfig(t, extra), {
      entities: ['customer'],
      mode: 'full',
    });
    expect(s.errors).toEqual([]);
    const open = await openKeys(db, t);
    expect(open, t).toContain('customer duplicate_match E:E1 ');
    // allowMany: erp lets C4 link to both E2 and E3.
    if (t === 'erpmany') expect(open).not.toContain('customer duplicate_match C:C4 ');
    else expect(open).toContain('customer duplicate_match C:C4 ');
  }
});

it('rejects an unknown side', () => {
  expect(() => csvTenantConfig('bad', { entities: { customer: { match: { allowMany: 'both' } } } })).toThrow(
    /allowMany/,
  );
});

it('judges references through many-to-one links: an invoice of any linked CRM record matches the one ERP record', async () => {
  const t = 'manyrefs';
  await seed(t);
  await stageRows(db, t, 'crm', 'customer', [{ id: 'C5', name: 'Initech', credit_limit: '7' }]);
  await stageRows(db, t, 'erp', 'customer', [
    { id: 'E5', crm_ref: 'C5', name: 'Initech', credit_limit: '7' },
  ]);
  await stageRows(db, t, 'crm', 'invoice', [
    invoiceRow('ci1', 'C1'), // C1 -> E1 (direct key)
    invoiceRow('ci2', 'C2'), // C2 -> E1 too (allowMany: crm)
    invoiceRow('ci3', 'C3'), // C3 -> E1 by its email
    invoiceRow('ci4', 'C2'), // attached to Acme Sales in the CRM, to Initech in the ERP
  ]);
  await stageRows(db, t, 'erp', 'invoice', [
    invoiceRow('ei1', 'E1', { crm_ref: 'ci1' }),
    invoiceRow('ei2', 'E1', { crm_ref: 'ci2' }),
    invoiceRow('ei3', 'E1', { crm_ref: 'ci3' }),
    invoiceRow('ei4', 'E5', { crm_ref: 'ci4' }),
    invoiceRow('ei6', 'E1'), // missing in the CRM: E1 has three CRM records
  ]);
  const cfg = csvTenantConfig(t, {
    actions: { policy: 'propose', createMissing: true },
    entities: { customer: { ...keys, match: { ...keys.match, allowMany: 'crm' } } },
  });
  for (const mode of ['full', 'incremental'] as const) {
    const s = await reconcile(db, dir, t, cfg, { entities: ['customer', 'invoice'], mode });
    expect(s.errors, mode).toEqual([]);
    expect(await openKeys(db, t, 'invoice'), mode).toEqual([
      'invoice field_mismatch C:ci4|E:ei4 customer_ref',
      'invoice missing_in_crm E:ei6 ',
    ]);
  }
  // The correction writes the CRM's own id of Initech; no create for ei6, whose customer has
  // three CRM records (which one would the new CRM invoice name?): the discrepancy says so.
  const actions = await db.staging.pool.query(
    `SELECT kind, target_system, target_id, fields FROM control.actions
      WHERE tenant_id = $1 AND entity = 'invoice' AND status = 'proposed'`,
    [t],
  );
  expect(actions.rows).toEqual([
    { kind: 'upsert', target_system: 'crm', target_id: 'ci4', fields: { customer_ref: 'C5' } },
  ]);
  const missing = await db.staging.pool.query(
    `SELECT detail FROM control.discrepancies WHERE tenant_id = $1 AND match_key = 'E:ei6'`,
    [t],
  );
  expect(missing.rows[0].detail.noCreate).toMatch(/customer_ref E1 .*not linked to exactly one CRM customer/);
});

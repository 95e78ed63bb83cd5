// Issue 12, "references compared as references": invoices on both sides refer to their own
// system's customer ids (the CRM invoice to a CRM company id, the ERP invoice to an ERP customer
// number). A correctly attached invoice has no customer_ref mismatch, whatever links its customers
// (a direct key, a business key its run matched, a manual xref link); an invoice attached to
// another customer has one that names both customers; one whose customer is not linked yet is
// unverifiable. Corrections and creates write the target system's own id. An incremental run
// re-examines the invoices whose customers' links changed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listActions } from '../../staging/control/actions.js';
import { linkManually, unlinkRecords } from '../../staging/control/xref.js';
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

const db = useTestDatabase('recon_refs');
const T = 'refs';
const cfg = csvTenantConfig(T, {
  entities: { customer: { match: { keys: [{ field: 'email', normalise: 'email' }] } } },
  actions: { policy: 'propose', createMissing: true },
});
let dir: string;
const run = (mode: 'full' | 'incremental') =>
  reconcile(db, dir, T, cfg, { mode, entities: ['invoice', 'customer', 'payment'] });

beforeAll(async () => {
  dir = await dataDir();
  const customer = (id: string, name: string, email: string, extra: Record<string, unknown> = {}) => ({
    id,
    name,
    email,
    ...extra,
  });
  await stageRows(db, T, 'crm', 'customer', [
    customer('C1', 'Acme GmbH', 'acme@crm.example'),
    customer('C2', 'Globex Ltd', 'info@globex.example'),
    customer('C3', 'Initech SA', 'initech@crm.example'),
    customer('C4', 'Hooli Inc', 'hooli@crm.example'),
  ]);
  await stageRows(db, T, 'erp', 'customer', [
    customer('E1', 'ACME GmbH', 'billing@acme.example', { crm_ref: 'C1' }), // linked by its direct key
    customer('E2', 'Globex Ltd', 'INFO@globex.example '), // by the business key (email)
    customer('E3', 'Initech S.A.', 'ap@initech.example'), // by a manual link
    customer('E5', 'Vandelay Industries', 'vandelay@erp.example'), // linked to nothing
  ]);
  await linkManually(db.staging.db, {
    tenant: T,
    entity: 'customer',
    crmSystem: 'crm',
    crmId: 'C3',
    erpSystem: 'erp',
    erpId: 'E3',
    createdBy: 'test',
  });
  await stageRows(db, T, 'crm', 'invoice', [
    invoiceRow('ci1', 'C1'),
    invoiceRow('ci2', 'C2'),
    invoiceRow('ci3', 'C3'),
    invoiceRow('ci4', 'C1'), // attached to Acme in the CRM, to Globex in the ERP
    invoiceRow('ci5', 'C4'), // Hooli is not linked to an ERP customer
    invoiceRow('ci6', null), // no customer in the CRM
    invoiceRow('ci7', 'C1'), // missing in the ERP: its create refers to E1
    invoiceRow('ci8', 'C4'), // missing in the ERP: no create (Hooli has no ERP customer)
    // Many more of Globex, so that an incremental run's scope stays a small part of the mirror.
    ...Array.from({ length: 30 }, (_v, i) => invoiceRow(`ci${100 + i}`, 'C2')),
  ]);
  await stageRows(db, T, 'erp', 'invoice', [
    invoiceRow('ei1', 'E1', { crm_ref: 'ci1' }),
    invoiceRow('ei2', 'E2', { crm_ref: 'ci2' }),
    invoiceRow('ei3', 'E3', { crm_ref: 'ci3' }),
    invoiceRow('ei4', 'E2', { crm_ref: 'ci4' }),
    invoiceRow('ei5', 'E5', { crm_ref: 'ci5' }),
    invoiceRow('ei6', 'E1', { crm_ref: 'ci6' }),
    ...Array.from({ length: 30 }, (_v, i) => invoiceRow(`ei${100 + i}`, 'E2', { crm_ref: `ci${100 + i}` })),
  ]);
  // Payments list the invoices they settle, in each system's ids, in any order.
  await stageRows(db, T, 'crm', 'payment', [
    { id: 'cp1', number: 'P1', applied_invoices: ['ci1', 'ci2'] },
    { id: 'cp2', number: 'P2', applied_invoices: ['ci1'] },
  ]);
  await stageRows(db, T, 'erp', 'payment', [
    { id: 'ep1', number: 'P1', crm_ref: 'cp1', applied_invoices: ['ei2', 'ei1'] },
    { id: 'ep2', number: 'P2', crm_ref: 'cp2', applied_invoices: ['ei2'] },
  ]);
});
afterAll(async () => {
  await removeDataDirs();
});

async function detailOf(matchKey: string, cls: string, field: string) {
  const { rows } = await db.staging.pool.query<{ detail: Record<string, unknown>; material: boolean }>(
    `SELECT detail, material FROM control.discrepancies
      WHERE tenant_id = $1 AND match_key = $2 AND class = $3 AND field = $4`,
    [T, matchKey, cls, field],
  );
  return rows[0];
}

describe('references compared through the referenced records’ links', () => {
  it('finds the invoice attached to another customer, and only that one', async () => {
    const s = await run('full');
    expect(s.errors).toEqual([]);
    expect(await openKeys(db, T, 'invoice')).toEqual([
      'invoice field_mismatch C:ci4|E:ei4 customer_ref',
      'invoice field_mismatch C:ci6|E:ei6 customer_ref',
      'invoice missing_in_erp C:ci7 ',
      'invoice missing_in_erp C:ci8 ',
      'invoice unverifiable C:ci5|E:ei5 customer_ref',
    ]);
    expect(await openKeys(db, T, 'payment')).toEqual(['payment field_mismatch C:cp2|E:ep2 applied_invoices']);
    // The mismatch names both customers, their names and what each is linked to.
    const mismatch = await detailOf('C:ci4|E:ei4', 'field_mismatch', 'customer_ref');
    expect(mismatch!.detail.reference).toEqual({
      entity: 'customer',
      field: 'customer_ref',
      crm: { id: 'C1', name: 'Acme GmbH', linkedTo: ['E1'], deadLetters: [] },
      erp: { id: 'E2', name: 'Globex Ltd', linkedTo: ['C2'], deadLetters: [] },
    });
    expect(mismatch!.detail.explanation).toBe(
      'The CRM invoice refers to customer C1 (Acme GmbH), linked to ERP customer E1; ' +
        'the ERP invoice refers to customer E2 (Globex Ltd), linked to CRM customer C2',
    );
    const unverifiable = await detailOf('C:ci5|E:ei5', 'unverifiable', 'customer_ref');
    expect(unverifiable!.material).toBe(false);
    expect(unverifiable!.detail).toMatchObject({ reason: 'reference_not_linked' });
    expect(unverifiable!.detail.explanation).toMatch(/Hooli Inc\), not linked to an ERP customer yet/);
    expect((await detailOf('C:ci8', 'missing_in_erp', ''))!.detail.noCreate).toMatch(
      /^customer_ref C4 names a CRM customer that is not linked to exactly one ERP customer/,
    );
  });

  it('corrects a reference with the target system’s own id of the linked record', async () => {
    const actions = await listActions(db.staging.db, { tenant: T, status: 'proposed' });
    const sourceOf = (a: (typeof actions)[number]) =>
      (a.explanation.source as { id?: string } | undefined)?.id;
    const of = (id: string) => actions.find((a) => a.targetId === id || sourceOf(a) === id);
    // The ERP owns customer_ref: the CRM invoice gets the CRM id of the ERP's customer.
    expect(actions.find((a) => a.targetId === 'ci4')).toMatchObject({ fields: { customer_ref: 'C2' } });
    expect(actions.find((a) => a.targetId === 'ci6')).toMatchObject({ fields: { customer_ref: 'C1' } });
    expect(actions.find((a) => a.targetId === 'cp2')).toMatchObject({
      fields: { applied_invoices: ['ci2'] },
    });
    // The create of a missing invoice refers to the ERP's customer; none for ci8.
    const creates = actions.filter((a) => a.kind === 'create' && a.entity === 'invoice');
    expect(creates.map((a) => [sourceOf(a), a.fields.customer_ref])).toEqual([['ci7', 'E1']]);
    expect(of('ci5')).toBeUndefined();
  });

  it('an incremental run re-examines the invoices whose customers’ links changed', async () => {
    await run('incremental'); // the key matches the first run recorded come back once as changed links
    // Hooli is linked to Vandelay's ERP record: ci5/ei5 now agree, ci8 can be created.
    await linkManually(db.staging.db, {
      tenant: T,
      entity: 'customer',
      crmSystem: 'crm',
      crmId: 'C4',
      erpSystem: 'erp',
      erpId: 'E5',
      createdBy: 'test',
    });
    // Initech's link is removed: its invoice can no longer be verified.
    await unlinkRecords(db.staging.db, {
      tenant: T,
      entity: 'customer',
      crmSystem: 'crm',
      crmId: 'C3',
      erpSystem: 'erp',
      erpId: 'E3',
    });
    // Acme's ERP record drops its direct key: the invoices of Acme can no longer be verified.
    await stageRows(
      db,
      T,
      'erp',
      'customer',
      [{ id: 'E1', name: 'ACME GmbH', email: 'billing@acme.example' }],
      {
        version: 2n,
      },
    );
    const s = await run('incremental');
    expect(s.entities.find((e) => e.entity === 'invoice')!.mode).toBe('incremental');
    const expected = [
      'invoice field_mismatch C:ci6|E:ei6 customer_ref',
      'invoice missing_in_erp C:ci7 ',
      'invoice missing_in_erp C:ci8 ',
      'invoice unverifiable C:ci1|E:ei1 customer_ref',
      'invoice unverifiable C:ci3|E:ei3 customer_ref',
      'invoice unverifiable C:ci4|E:ei4 customer_ref',
    ];
    expect(await openKeys(db, T, 'invoice')).toEqual(expected);
    expect((await detailOf('C:ci8', 'missing_in_erp', ''))!.detail.noCreate).toBeUndefined();
    // ci1 and ci2 are settled by the payments, whose invoices did not change: P2 still differs.
    expect(await openKeys(db, T, 'payment')).toEqual(['payment field_mismatch C:cp2|E:ep2 applied_invoices']);
    // A full run agrees.
    await run('full');
    expect(await openKeys(db, T, 'invoice')).toEqual(expected);
  });
});

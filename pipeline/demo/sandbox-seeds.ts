// The demo's customers as each vendor sandbox holds them: Salesforce Accounts (with a
// Credit_Limit__c field the tenant maps), HubSpot companies (numeric ids, erp_id, credit_limit and
// currency_code properties), NetSuite customers (numeric internal ids, whole-second stamps; deleted
// ones in `deletedrecord`). Fields beyond the demo's are left empty: both sides then hold null.
// The write-back loop tests (test/apply) seed their sandboxes with these too.
import type { HubspotSeedRecords } from '../connectors/hubspot/hubspot-seed.js';
import type { NetsuiteSeedTables } from '../connectors/netsuite/netsuite-seed.js';
import { resolveMappings, SYSTEM_FIELDS } from '../connectors/salesforce/mapping.js';
import type { SalesforceSeed, SfRow } from '../connectors/salesforce/sandbox-data.js';
import type { GeneratedRecord } from '../generator/ground-truth.js';
import { botched } from '../generator/stage-generated.js';

/** The fields a system holds: a record the generator dead-letters has its amount botched ("1.234,56 €"). */
export const heldFields = (r: GeneratedRecord) => (r.deadLetter ? botched('customer', r.fields) : r.fields);

/** The tenant's mapping overrides the Salesforce and HubSpot loops use for the customer entity. */
export const SALESFORCE_OVERRIDES = { fields: { credit_limit: 'Credit_Limit__c' } };
export const HUBSPOT_OVERRIDES = { fields: { credit_limit: 'credit_limit', currency: 'currency_code' } };

const text = (v: unknown) => (v === null || v === undefined ? '' : String(v));

export function salesforceAccounts(records: readonly GeneratedRecord[]): SalesforceSeed {
  const [m] = resolveMappings({
    role: 'crm',
    objects: { Account: 'customer' },
    entityOverrides: () => ({ overrides: SALESFORCE_OVERRIDES }),
  });
  const fields = [...new Set([...SYSTEM_FIELDS, 'CreatedDate', ...Object.values(m!.fields)])];
  const index = new Map(records.map((r, i) => [r.sourceId, i]));
  const rows = records.map((r): SfRow => {
    const out: Record<string, string> = Object.fromEntries(fields.map((f) => [f, '']));
    const held = heldFields(r);
    for (const [canonical, sf] of Object.entries(m!.fields))
      if (sf !== 'Id' && canonical in held) out[sf] = text(held[canonical]);
    const stamp = new Date(r.updatedAt).toISOString();
    return {
      ...out,
      Id: r.sourceId,
      SystemModstamp: stamp,
      CreatedDate: stamp,
      IsDeleted: r.deleted ? 'true' : 'false',
    };
  });
  return {
    Account: {
      fields,
      keyPrefix: '001',
      count: rows.length,
      record: (i) => rows[i]!,
      stampMs: (i) => Date.parse(records[i]!.updatedAt),
      required: ['Name'],
      idOf: (i) => records[i]!.sourceId,
      indexOf: (id) => index.get(id),
    },
  };
}

export function hubspotCompanies(records: readonly GeneratedRecord[]): HubspotSeedRecords {
  return {
    companies: records.map((r) => ({
      id: r.sourceId,
      properties: {
        name: (r.fields.name as string | null) ?? null,
        phone: (r.fields.phone as string | null) ?? null,
        currency_code: (r.fields.currency as string | null) ?? null,
        credit_limit: heldFields(r).credit_limit == null ? null : String(heldFields(r).credit_limit),
        erp_id: (r.fields.erp_ref as string | null) ?? null,
      },
      createdAt: Date.parse(r.updatedAt),
      updatedAt: Date.parse(r.updatedAt),
      ...(r.deleted ? { archived: true, archivedAt: Date.parse(r.updatedAt) } : {}),
    })),
    products: [],
    deals: [],
    invoices: [],
    contacts: [],
  };
}

export function netsuiteCustomers(records: readonly GeneratedRecord[]): NetsuiteSeedTables {
  const second = (iso: string) => Math.floor(Date.parse(iso) / 1000) * 1000;
  return {
    customer: records
      .filter((r) => !r.deleted)
      .map((r) => ({
        id: Number(r.sourceId),
        entityid: null,
        companyname: (r.fields.name as string | null) ?? null,
        email: null,
        phone: (r.fields.phone as string | null) ?? null,
        currency: (r.fields.currency as string | null) ?? null,
        terms: null,
        creditlimit: r.fields.credit_limit == null ? null : Number(r.fields.credit_limit),
        externalid: (r.fields.crm_ref as string | null) ?? null,
        isinactive: 'F',
        datecreated: second(r.updatedAt),
        lastmodifieddate: second(r.updatedAt),
      })),
    item: [],
    transaction: [],
    deletedrecord: records
      .filter((r) => r.deleted)
      .map((r) => ({
        recordid: Number(r.sourceId),
        type: 'customer',
        deleteddate: second(r.updatedAt),
        name: null,
      })),
  };
}

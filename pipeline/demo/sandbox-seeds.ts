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
  return salesforceObjects({ Account: records });
}

/** The SObjects the demo seeds, their entity, key prefix and the fields a create must set. */
const SOBJECTS = {
  Account: { entity: 'customer', keyPrefix: '001', required: ['Name'] },
  Product2: { entity: 'product', keyPrefix: '01t', required: ['Name'] },
  Order: { entity: 'order', keyPrefix: '801', required: ['AccountId'] },
  Invoice__c: { entity: 'invoice', keyPrefix: 'a01', required: ['Name'] },
} as const;
export type DemoSObject = keyof typeof SOBJECTS;

/** The tenant's Salesforce overrides per entity (Product2 has no price field: a custom one). */
export const SALESFORCE_ENTITY_OVERRIDES: Partial<Record<string, { fields: Record<string, string> }>> = {
  customer: SALESFORCE_OVERRIDES,
  product: { fields: { list_price: 'List_Price__c' } },
};

/** A Salesforce sandbox seed of the given SObjects' records (ids already in Salesforce's shape). */
export function salesforceObjects(
  objects: Partial<Record<DemoSObject, readonly GeneratedRecord[]>>,
): SalesforceSeed {
  const names = Object.keys(objects) as DemoSObject[];
  const mappings = resolveMappings({
    role: 'crm',
    objects: Object.fromEntries(names.map((n) => [n, SOBJECTS[n].entity])),
    entityOverrides: (entity) => {
      const overrides = SALESFORCE_ENTITY_OVERRIDES[entity];
      return overrides ? { overrides } : {};
    },
  });
  const seed: Record<string, SalesforceSeed[string]> = {};
  names.forEach((name, k) => {
    const records = objects[name]!;
    const m = mappings[k]!;
    const fields = [...new Set([...SYSTEM_FIELDS, 'CreatedDate', ...Object.values(m.fields)])];
    const index = new Map(records.map((r, i) => [r.sourceId, i]));
    const rows = records.map((r): SfRow => {
      const out: Record<string, string> = Object.fromEntries(fields.map((f) => [f, '']));
      const held = heldFields(r);
      for (const [canonical, sf] of Object.entries(m.fields))
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
    seed[name] = {
      fields,
      keyPrefix: SOBJECTS[name].keyPrefix,
      count: rows.length,
      record: (i) => rows[i]!,
      stampMs: (i) => Date.parse(records[i]!.updatedAt),
      required: SOBJECTS[name].required,
      idOf: (i) => records[i]!.sourceId,
      indexOf: (id) => index.get(id),
    };
  });
  return seed;
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

/** HubSpot products (name, hs_sku, price; erp_id holds the NetSuite item id). */
export function hubspotProducts(
  records: readonly GeneratedRecord[],
): NonNullable<HubspotSeedRecords['products']> {
  return records.map((r) => ({
    id: r.sourceId,
    properties: {
      name: text(r.fields.name) || null,
      hs_sku: text(r.fields.sku) || null,
      price: text(r.fields.list_price) || null,
      erp_id: (r.fields.erp_ref as string | null) ?? null,
    },
    createdAt: Date.parse(r.updatedAt),
    updatedAt: Date.parse(r.updatedAt),
  }));
}

/**
 * HubSpot deals (dealname, closedate, deal_currency_code, amount; erp_id holds the NetSuite sales
 * order id). The company is an association (primary), never a property: the connector reads it
 * into customer_ref through `associations.deals.customer_ref: companies`.
 */
export function hubspotDeals(records: readonly GeneratedRecord[]): NonNullable<HubspotSeedRecords['deals']> {
  return records.map((r) => ({
    id: r.sourceId,
    properties: {
      dealname: text(r.fields.number) || null,
      closedate: text(r.fields.order_date) || null,
      deal_currency_code: text(r.fields.currency) || null,
      amount: text(r.fields.amount_total) || null,
      erp_id: (r.fields.erp_ref as string | null) ?? null,
    },
    createdAt: Date.parse(r.updatedAt),
    updatedAt: Date.parse(r.updatedAt),
    ...(typeof r.fields.customer_ref === 'string'
      ? { associations: { companies: [{ id: r.fields.customer_ref, primary: true }] } }
      : {}),
  }));
}

/** NetSuite sales orders (transaction rows of type SalesOrd; externalid holds the HubSpot deal id). */
export function netsuiteSalesOrders(
  records: readonly GeneratedRecord[],
): NonNullable<NetsuiteSeedTables['transaction']> {
  const second = (iso: string) => Math.floor(Date.parse(iso) / 1000) * 1000;
  return records.map((r) => ({
    id: Number(r.sourceId),
    type: 'SalesOrd',
    tranid: (r.fields.number as string | null) ?? null,
    entity: typeof r.fields.customer_ref === 'string' ? Number(r.fields.customer_ref) : null,
    trandate: (r.fields.order_date as string | null) ?? null,
    duedate: null,
    status: null,
    currency: (r.fields.currency as string | null) ?? null,
    foreigntotal: r.fields.amount_total == null ? null : Number(r.fields.amount_total),
    taxtotal: null,
    foreignamountremaining: null,
    externalid: (r.fields.crm_ref as string | null) ?? null,
    lastmodifieddate: second(r.updatedAt),
  }));
}

/** NetSuite items (itemid is the SKU; externalid holds the HubSpot product id); live ones only. */
export function netsuiteItems(records: readonly GeneratedRecord[]): NetsuiteSeedTables['item'] {
  const second = (iso: string) => Math.floor(Date.parse(iso) / 1000) * 1000;
  return records.map((r) => ({
    id: Number(r.sourceId),
    itemid: (r.fields.sku as string | null) ?? null,
    displayname: (r.fields.name as string | null) ?? null,
    itemtype: 'InvtPart',
    baseprice: r.fields.list_price == null ? null : Number(r.fields.list_price),
    isinactive: 'F',
    externalid: (r.fields.crm_ref as string | null) ?? null,
    lastmodifieddate: second(r.updatedAt),
  }));
}

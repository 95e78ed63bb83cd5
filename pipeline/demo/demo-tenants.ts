// The demo's three tenants and the systems behind them, brought up from generated data:
//   acme    — Odoo-shaped ERP (Postgres, CDC) + Salesforce sandbox CRM, USD
//   globex  — NetSuite sandbox ERP + HubSpot sandbox CRM, EUR; the ERP owns the name, a money tolerance
//   initech — Odoo-shaped ERP + Twenty-shaped CRM, both Postgres (CDC, two databases), JPY
// Each tenant's raw config (as trueup.yaml holds it) names its secrets as `${file:secrets/…}`
// references beside the config file. Every tenant auto-approves its corrections.
import { HubspotSandbox } from '../connectors/hubspot/hubspot-sandbox.js';
import { NetsuiteSandbox } from '../connectors/netsuite/netsuite-sandbox.js';
import { SalesforceSandbox } from '../connectors/salesforce/sandbox.js';
import { DEMO_ENTITIES, type DemoCustomers, type DemoEntity, demoCustomers, ID_SHAPES } from './demo-data.js';
import {
  HUBSPOT_OVERRIDES,
  hubspotCompanies,
  hubspotDeals,
  hubspotProducts,
  netsuiteCustomers,
  netsuiteItems,
  netsuiteSalesOrders,
  SALESFORCE_ENTITY_OVERRIDES,
  SALESFORCE_OVERRIDES,
  salesforceObjects,
} from './sandbox-seeds.js';
import { createSourceDatabase, type OtherRecords, type SourceShape, sourceTables } from './source-tables.js';

export const DEMO_TENANTS = ['acme', 'globex', 'initech'] as const;
export type DemoTenant = (typeof DEMO_TENANTS)[number];

/** Secret files the config references (name → value), written beside it under secrets/. */
export const SECRET_FILES = {
  source: 'source-postgres-password',
  salesforce: 'salesforce-token',
  hubspot: 'hubspot-token',
  netsuite: 'netsuite-token',
} as const;

const TOKENS = {
  salesforce: 'demo-salesforce-token',
  hubspot: 'demo-hubspot-token',
  netsuite: 'demo-netsuite-token',
};

/** Client limits for local sandboxes: no reason to wait between requests. */
const LIMITS = {
  requestsPerSecond: 1_000,
  concurrency: 4,
  maxRetries: 5,
  timeoutMs: 15_000,
  minBackoffMs: 10,
  maxBackoffMs: 200,
};

/** Share of each CRM's cases it holds with a value trueup cannot stage (→ unverifiable counterparts). */
const DEAD_LETTERS = 0.04;

/** CDC settings for a demo that streams briefly: short group delays and heartbeats. */
const STREAM = {
  maxGroupDelayMs: 50,
  heartbeatSeconds: 0.5,
  backoffMinMs: 50,
  backoffMaxMs: 1_000,
  claimRetryMs: 200,
};

export interface SourceCluster {
  /** Admin URL (creates the databases). */
  adminUrl: string;
  port: number;
}

export interface DemoWorld {
  /** Raw tenant configs, as trueup.yaml holds them. */
  tenants: Record<DemoTenant, Record<string, unknown>>;
  /** Secret file name → value. */
  secrets: Record<string, string>;
  /**
   * Per tenant: deletes the records the generator marks deleted, in each system, after the first
   * sync — CDC then streams them, and the APIs list them as deleted since that sync (HubSpot's
   * archived and NetSuite's deletedrecord streams start at the first sync, as they do for real).
   */
  deleteMarked: Record<DemoTenant, () => Promise<void>>;
  /** Generated records per tenant (counts for the summary). */
  data: Record<DemoTenant, DemoCustomers>;
  /** Stops the sandboxes and closes the source pools. */
  close(): Promise<void>;
}

/** Brings up the sandboxes and source databases of the three tenants; `count` customers each. */
export async function startDemoWorld(o: { cluster: SourceCluster; count: number }): Promise<DemoWorld> {
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    const sourcePassword = decodeURIComponent(new URL(o.cluster.adminUrl).password);
    const pgSystem = (
      role: 'crm' | 'erp',
      database: string,
      shape: SourceShape,
      entities: DemoEntity[] = [],
    ) => ({
      kind: 'postgres',
      role,
      connection: `postgres://${new URL(o.cluster.adminUrl).username}:\${file:secrets/${SECRET_FILES.source}}@127.0.0.1:${o.cluster.port}/${database}`,
      tables: sourceTables(shape, entities),
      stream: STREAM,
    });
    const source = async (
      name: string,
      shape: SourceShape,
      records: DemoCustomers['crm'],
      others: OtherRecords = {},
    ) => {
      const db = await createSourceDatabase(o.cluster.adminUrl, name, shape, records, others);
      closers.push(() => db.close());
      return db;
    };

    const side = (r: DemoCustomers, s: 'crm' | 'erp'): OtherRecords =>
      Object.fromEntries(Object.entries(r.others).map(([e, recs]) => [e, recs[s]]));

    // acme: Odoo + Salesforce, USD; customers (Account), products (Product2), orders (Order) and
    // invoices (Invoice__c).
    const acme = demoCustomers({
      seed: 101,
      count: o.count,
      currency: 'USD',
      crmId: ID_SHAPES.salesforce,
      erpId: ID_SHAPES.odoo,
      crmDeadLetters: DEAD_LETTERS,
      others: {
        product: { crmId: ID_SHAPES.salesforceProduct, erpId: ID_SHAPES.odoo },
        order: { crmId: ID_SHAPES.salesforceOrder, erpId: ID_SHAPES.odoo },
        invoice: { crmId: ID_SHAPES.salesforceInvoice, erpId: ID_SHAPES.odoo },
      },
    });
    const sf = new SalesforceSandbox({
      seed: salesforceObjects({
        Account: acme.crm,
        Product2: acme.others.product!.crm,
        Order: acme.others.order!.crm,
        Invoice__c: acme.others.invoice!.crm,
      }),
      tokens: [TOKENS.salesforce],
    });
    await sf.listen();
    closers.push(() => sf.close());
    const acmeErp = await source('acme_odoo', 'odoo', acme.erp, side(acme, 'erp'));

    // globex: NetSuite + HubSpot, EUR; its own owners (the ERP owns the name) and a 1 EUR tolerance.
    const globex = demoCustomers({
      seed: 202,
      count: o.count,
      currency: 'EUR',
      crmId: ID_SHAPES.hubspot,
      erpId: ID_SHAPES.netsuite,
      toleranceMinor: 100,
      crmDeadLetters: DEAD_LETTERS,
      // Products and orders. A NetSuite item has no currency, a HubSpot product no active flag: the
      // products hold SKU, name and price. NetSuite's REST item record has no price field (it is on
      // a pricing sublist), so an item cannot be created with its price: the HubSpot side has no
      // product the ERP lacks. Orders are HubSpot deals ↔ NetSuite sales orders; a deal names its
      // company by association (the connector's `associations`), which trueup reads but does not
      // write, and a sales order's total is computed by NetSuite: neither side has an order the
      // other lacks, so no create is needed on either.
      others: {
        product: {
          crmId: ID_SHAPES.hubspot,
          erpId: ID_SHAPES.netsuite,
          fields: ['sku', 'name', 'list_price'],
          crmOnly: false,
        },
        order: {
          crmId: ID_SHAPES.hubspot,
          erpId: ID_SHAPES.netsuite,
          fields: ['number', 'customer_ref', 'order_date', 'currency', 'amount_total'],
          crmOnly: false,
          erpOnly: false,
        },
      },
    });
    const live = (rs: DemoCustomers['crm']) => rs.map((r) => ({ ...r, deleted: false }));
    const globexProducts = globex.others.product!;
    const globexOrders = globex.others.order!;
    const hs = new HubspotSandbox({
      records: {
        ...hubspotCompanies(live(globex.crm)),
        products: hubspotProducts(live(globexProducts.crm)),
        deals: hubspotDeals(live(globexOrders.crm)),
      },
      tokens: [TOKENS.hubspot],
    });
    const hsUrl = await hs.listen();
    closers.push(() => hs.close());
    const ns = new NetsuiteSandbox({
      tables: {
        ...netsuiteCustomers(live(globex.erp)),
        item: netsuiteItems(live(globexProducts.erp)),
        transaction: netsuiteSalesOrders(live(globexOrders.erp)),
      },
      tokens: [TOKENS.netsuite],
    });
    const nsUrl = await ns.listen();
    closers.push(() => ns.close());

    // initech: Odoo + Twenty, both Postgres, JPY; customers, products, orders and invoices.
    const initech = demoCustomers({
      seed: 303,
      count: o.count,
      currency: 'JPY',
      crmId: ID_SHAPES.twenty,
      erpId: ID_SHAPES.odoo,
      crmDeadLetters: DEAD_LETTERS,
      others: {
        product: { crmId: ID_SHAPES.twentyProduct, erpId: ID_SHAPES.odoo },
        order: { crmId: ID_SHAPES.twentyOrder, erpId: ID_SHAPES.odoo },
        invoice: { crmId: ID_SHAPES.twentyInvoice, erpId: ID_SHAPES.odoo },
      },
    });
    const initechErp = await source('initech_odoo', 'odoo', initech.erp, side(initech, 'erp'));
    const initechCrm = await source('initech_twenty', 'twenty', initech.crm, side(initech, 'crm'));

    const actions = { policy: 'auto_approve', createMissing: true };
    // The demo's dead letters are on purpose: a side missing a few records is not "incomplete".
    const sync = { maxDeadLetterShare: 0.1 };
    // Entities a tenant's systems do not hold are off, so a run skips them (each tenant below turns
    // on what it has: customers, products, orders, and invoices where both systems hold them).
    const off = { enabled: false };
    const others = { product: off, order: off, invoice: off, payment: off, subscription: off };
    const tenants: DemoWorld['tenants'] = {
      acme: {
        displayName: 'Acme Corp (demo: Odoo + Salesforce)',
        timezone: 'America/New_York',
        materiality: { threshold: '100' },
        systems: {
          odoo: pgSystem('erp', 'acme_odoo', 'odoo', [...DEMO_ENTITIES]),
          salesforce: {
            kind: 'salesforce',
            role: 'crm',
            baseUrl: sf.url,
            accessToken: `\${file:secrets/${SECRET_FILES.salesforce}}`,
            objects: { Account: 'customer', Product2: 'product', Order: 'order', Invoice__c: 'invoice' },
            limits: LIMITS,
            bulk: { pollMinMs: 5, pollMaxMs: 50, lagSeconds: 0 },
          },
        },
        entities: {
          ...others,
          customer: { match: { keys: [] }, mapping: { salesforce: SALESFORCE_OVERRIDES } },
          product: { match: { keys: [] }, mapping: { salesforce: SALESFORCE_ENTITY_OVERRIDES.product } },
          order: { match: { keys: [] } },
          invoice: { match: { keys: [] } },
        },
        actions,
        sync,
      },
      globex: {
        displayName: 'Globex GmbH (demo: NetSuite + HubSpot)',
        timezone: 'Europe/Berlin',
        materiality: { threshold: '250', byCurrency: { EUR: '250' } },
        systems: {
          netsuite: {
            kind: 'netsuite',
            role: 'erp',
            baseUrl: nsUrl,
            accessToken: `\${file:secrets/${SECRET_FILES.netsuite}}`,
            streams: ['customer', 'item', 'salesorder'],
            limits: LIMITS,
          },
          hubspot: {
            kind: 'hubspot',
            role: 'crm',
            baseUrl: hsUrl,
            accessToken: `\${file:secrets/${SECRET_FILES.hubspot}}`,
            objects: ['companies', 'products', 'deals'],
            // A deal's company is an association, not a property (docs/connectors.md).
            associations: { deals: { customer_ref: 'companies' } },
            limits: LIMITS,
          },
        },
        entities: {
          customer: {
            match: { keys: [] },
            compare: { credit_limit: { type: 'money', toleranceMinor: 100 } },
            survivorship: { name: { rule: 'owner', owner: 'erp' } },
            mapping: { hubspot: HUBSPOT_OVERRIDES },
          },
          ...others,
          // What one side does not hold is not compared (NetSuite's item type, HubSpot's active flag).
          product: { match: { keys: [] }, ignoreFields: ['type', 'uom', 'active', 'currency'] },
          // HubSpot holds no order status or tax; a wrong company on a deal is corrected on the
          // NetSuite sales order (its entity), since trueup does not write HubSpot associations.
          order: {
            match: { keys: [] },
            ignoreFields: ['status', 'amount_tax', 'amount_untaxed', 'invoice_status'],
            survivorship: { customer_ref: { rule: 'owner', owner: 'crm' } },
          },
        },
        actions,
        sync,
      },
      initech: {
        displayName: 'Initech KK (demo: Odoo + Twenty)',
        timezone: 'Asia/Tokyo',
        materiality: { threshold: '10000' },
        systems: {
          odoo: pgSystem('erp', 'initech_odoo', 'odoo', [...DEMO_ENTITIES]),
          twenty: pgSystem('crm', 'initech_twenty', 'twenty', [...DEMO_ENTITIES]),
        },
        entities: {
          customer: { match: { keys: [] } },
          ...others,
          product: { match: { keys: [] } },
          order: { match: { keys: [] } },
          invoice: { match: { keys: [] } },
        },
        actions,
        sync,
      },
    };
    return {
      tenants,
      secrets: {
        [SECRET_FILES.source]: sourcePassword,
        [SECRET_FILES.salesforce]: TOKENS.salesforce,
        [SECRET_FILES.hubspot]: TOKENS.hubspot,
        [SECRET_FILES.netsuite]: TOKENS.netsuite,
      },
      deleteMarked: {
        // Salesforce lists its deleted Accounts from the start (IsDeleted, queryAll).
        acme: () => acmeErp.deleteMarked(),
        globex: async () => {
          for (const r of globex.crm.filter((x) => x.deleted)) hs.archive('companies', r.sourceId);
          for (const r of globex.erp.filter((x) => x.deleted)) ns.remove('customer', Number(r.sourceId));
          for (const r of globexProducts.crm.filter((x) => x.deleted)) hs.archive('products', r.sourceId);
          for (const r of globexProducts.erp.filter((x) => x.deleted)) ns.remove('item', Number(r.sourceId));
          for (const r of globexOrders.crm.filter((x) => x.deleted)) hs.archive('deals', r.sourceId);
          for (const r of globexOrders.erp.filter((x) => x.deleted))
            ns.remove('transaction', Number(r.sourceId));
        },
        initech: async () => {
          await initechErp.deleteMarked();
          await initechCrm.deleteMarked();
        },
      },
      data: { acme, globex, initech },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

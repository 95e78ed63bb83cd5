// NetSuite contract: every request the connector sends and every answer the sandbox gives
// (SuiteQL pages, record upserts, errors) fits the JSON Schemas written from NetSuite's REST
// documentation (test/contract/schemas/netsuite/); record bodies are checked per record type.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxExchange } from '../../pipeline/connectors/http/sandbox-server.js';
import { NetsuiteSandbox } from '../../pipeline/connectors/netsuite/netsuite-sandbox.js';
import { createNetsuiteWriter } from '../../pipeline/connectors/netsuite/netsuite-writer.js';
import { syncSystem } from '../../pipeline/connectors/stream-runner.js';
import { createLogger } from '../../pipeline/log/logger.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { FAST_BACKOFF, netsuiteConfig } from '../support/netsuite.js';
import { checkExchanges, type RouteContract, schema, schemaFiles } from './contract-support.js';

let t: TestDatabase;
const logger = createLogger({ level: 'silent' });
beforeAll(async () => {
  t = await createTestDatabase('contract_netsuite');
});
afterAll(async () => t?.drop());

const recordType = (e: SandboxExchange) => `netsuite/record-body#${e.path.split('/')[5]}`;
const ROUTES: RouteContract[] = [
  {
    method: 'POST',
    path: /^\/services\/rest\/query\/v1\/suiteql$/,
    request: 'netsuite/suiteql-request',
    response: { 200: 'netsuite/suiteql-response', error: 'netsuite/error' },
  },
  {
    method: 'PUT',
    path: /^\/services\/rest\/record\/v1\/[A-Za-z]+\/eid:[^/]+$/,
    request: recordType,
    response: { error: 'netsuite/error' },
  },
];

describe('NetSuite contract', () => {
  it('what the connector sends and the sandbox answers fits NetSuite’s documented shapes', async () => {
    const sb = new NetsuiteSandbox({
      seed: 43,
      counts: { customer: 25, item: 6, salesorder: 12, invoice: 10, payment: 5 },
      tokens: ['ns-token'],
      record: true,
    });
    const url = await sb.listen();
    try {
      const config = netsuiteConfig(url, { pageSize: 7, stageBatchRows: 10 });
      const deps = { staging: t.staging, logger };
      sb.server.respondNext('rateLimited', 'serverError');
      expect(
        (await syncSystem(deps, 'ns_contract', 'netsuite', config, { limits: FAST_BACKOFF })).status,
      ).toBe('completed');
      const later = Date.now() + 5000;
      const [c1, c2] = [...sb.table('customer').keys()];
      sb.update('customer', c1!, { companyname: 'Changed' }, later);
      sb.remove('customer', c2!, later);
      const inc = await syncSystem(deps, 'ns_contract', 'netsuite', config, { limits: FAST_BACKOFF });
      expect(inc.status, inc.error).toBe('completed');

      const customer = sb.table('customer').get(c1!)!;
      const writer = createNetsuiteWriter({ logger }, 'acme', 'netsuite', config, { limits: FAST_BACKOFF });
      try {
        const out = await writer.upsert('customer', [
          {
            externalId: 'hs-c1',
            fields: { name: 'Written', currency: 'EUR', payment_terms: 'Net 30', credit_limit: '10' },
          },
          { externalId: 'hs-c2', fields: { credit_limit: 'lots' } },
        ]);
        expect(out.written).toHaveLength(1);
        await writer.upsert('order', [
          {
            externalId: 'so-1',
            fields: {
              number: 'SO-9',
              customer_ref: String(customer.id),
              order_date: '2024-02-01',
              currency: 'USD',
            },
          },
        ]);
        await writer.upsert('invoice', [
          {
            externalId: 'inv-1',
            fields: {
              number: 'INV-9',
              issue_date: '2024-02-01',
              due_date: '2024-03-01',
              customer_ref: String(customer.id),
            },
          },
        ]);
        await writer.upsert('payment', [
          { externalId: 'pay-1', fields: { number: 'P-9', customer_ref: String(customer.id) } },
        ]);
        await writer.upsert('product', [
          { externalId: 'sku-1', fields: { sku: 'SKU-9', name: 'Widget', active: true } },
        ]);
      } finally {
        await writer.close();
      }

      const { violations, used, unmatched } = checkExchanges(sb.server.exchanges, ROUTES);
      expect(unmatched).toEqual([]);
      expect(violations).toEqual([]);
      expect([...used].sort()).toEqual(schemaFiles('netsuite').sort());
      const puts = sb.server.exchanges.filter((e) => e.method === 'PUT').map((e) => e.path.split('/')[5]);
      expect(new Set(puts)).toEqual(
        new Set(['customer', 'salesOrder', 'invoice', 'customerPayment', 'inventoryItem']),
      );
    } finally {
      await sb.close();
    }
  });

  it('the schemas reject what NetSuite would not send or accept', () => {
    const page = { links: [], count: 1, hasMore: false, offset: 0, totalResults: 1 };
    expect(schema('netsuite/suiteql-response')({ ...page, items: [{ links: [], id: 101 }] })).toBe(false);
    expect(schema('netsuite/suiteql-response')({ ...page, items: [{ links: [], id: '101' }] })).toBe(true);
    expect(schema('netsuite/record-body#customer')({ companyname: 'x' })).toBe(false);
    expect(schema('netsuite/record-body#customer')({ currency: 'EUR' })).toBe(false);
    expect(schema('netsuite/record-body#customer')({ companyName: 'x', currency: { id: '2' } })).toBe(true);
    expect(schema('netsuite/error')({ title: 'Bad Request', status: 400 })).toBe(false);
  });
});

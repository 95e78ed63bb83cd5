// Salesforce contract: every request the connector sends and every JSON answer the sandbox gives
// (limits, Bulk API 2.0 jobs, composite upsert, describe, errors) fits the JSON Schemas written
// from Salesforce's documentation (test/contract/schemas/salesforce/).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SalesforceSandbox } from '../../pipeline/connectors/salesforce/sandbox.js';
import { SalesforceWriter } from '../../pipeline/connectors/salesforce/writer.js';
import { syncSystem } from '../../pipeline/connectors/stream-runner.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { FAST_BULK, FAST_LIMITS, quietLogger, startSandbox, systemConfig } from '../support/salesforce.js';
import { checkExchanges, type RouteContract, schema, schemaFiles } from './contract-support.js';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('contract_salesforce');
});
afterAll(async () => t?.drop());

const V = '/services/data/v\\d+\\.\\d';
const ERR = 'salesforce/error-array';
const ROUTES: RouteContract[] = [
  { method: 'GET', path: new RegExp(`^${V}/limits$`), response: { 200: 'salesforce/limits', error: ERR } },
  {
    method: 'POST',
    path: new RegExp(`^${V}/jobs/query$`),
    request: 'salesforce/bulk-job-create-request',
    response: { 200: 'salesforce/bulk-job-info', error: ERR },
  },
  {
    method: 'GET',
    path: new RegExp(`^${V}/jobs/query/[^/]+$`),
    response: { 200: 'salesforce/bulk-job-info', error: ERR },
  },
  // Results are CSV (not kept); their errors are JSON.
  { method: 'GET', path: new RegExp(`^${V}/jobs/query/[^/]+/results$`), response: { error: ERR } },
  {
    method: 'PATCH',
    path: new RegExp(`^${V}/composite/sobjects/[^/]+/[^/]+$`),
    request: 'salesforce/composite-upsert-request',
    response: { 200: 'salesforce/composite-upsert-response', error: ERR },
  },
  {
    method: 'GET',
    path: new RegExp(`^${V}/sobjects/[^/]+/describe$`),
    response: { 200: 'salesforce/describe', error: ERR },
  },
];

describe('Salesforce contract', () => {
  it('what the connector sends and the sandbox answers fits Salesforce’s documented shapes', async () => {
    const s: SalesforceSandbox = await startSandbox({ seed: 42, accounts: 60, record: true });
    try {
      const config = systemConfig(s, { bulk: { ...FAST_BULK, maxRecords: 25, batchSize: 20 } });
      const deps = { staging: t.staging, logger: quietLogger };
      s.server.respondNext('rateLimited', 'serverError');
      expect((await syncSystem(deps, 'sf_contract', 'crm', config, { limits: FAST_LIMITS })).status).toBe(
        'completed',
      );
      const [a, b] = [...s.rows('Account')];
      s.update('Account', a!.Id!, { Name: 'Changed' });
      s.delete('Account', b!.Id!);
      await new Promise((r) => setTimeout(r, 1100));
      const inc = await syncSystem(deps, 'sf_contract', 'crm', config, { limits: FAST_LIMITS });
      expect(inc.status, inc.error).toBe('completed');

      const w = SalesforceWriter.open({
        tenant: 'w',
        system: 'crm',
        systemConfig: config,
        logger: quietLogger,
        limits: FAST_LIMITS,
      });
      try {
        await w.upsertCanonical('customer', [
          { externalId: 'C-1', fields: { name: 'Written', website: 'https://c.example' } },
          { externalId: 'C-2', fields: { website: 'no name' } },
        ]);
        await w.upsert('Account', 'ERP_Id__c', [{ externalId: 'C-3', fields: { Name: 'X', Bogus__c: 1 } }]);
      } finally {
        await w.close();
      }

      const { violations, used, unmatched } = checkExchanges(s.server.exchanges, ROUTES);
      expect(unmatched).toEqual([]);
      expect(violations).toEqual([]);
      expect([...used].sort()).toEqual(schemaFiles('salesforce').sort());
    } finally {
      await s.close();
    }
  });

  it('the schemas reject what Salesforce would not send or accept', () => {
    expect(
      schema('salesforce/bulk-job-create-request')({
        operation: 'queryAll',
        query: 'SELECT Id FROM Account WHERE SystemModstamp >= 2024-01-01T00:00:00.000Z',
        contentType: 'CSV',
      }),
    ).toBe(false);
    expect(schema('salesforce/error-array')({ message: 'x', errorCode: 'X' })).toBe(false);
    expect(
      schema('salesforce/composite-upsert-request')({
        records: Array.from({ length: 201 }, () => ({ attributes: { type: 'Account' } })),
      }),
    ).toBe(false);
    expect(schema('salesforce/bulk-job-info')({ id: '750000000000000001', state: 'Done' })).toBe(false);
  });
});

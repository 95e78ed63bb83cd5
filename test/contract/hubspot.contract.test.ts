// HubSpot contract: every request the connector sends and every answer the sandbox gives (list,
// search, batch upsert, errors, rate limits) fits the JSON Schemas taken from HubSpot's published
// OpenAPI spec (test/contract/schemas/hubspot/).
import { describe, expect, it } from 'vitest';
import { HubspotSandbox } from '../../pipeline/connectors/hubspot/hubspot-sandbox.js';
import { createHubspotWriter } from '../../pipeline/connectors/hubspot/hubspot-writer.js';
import { syncSystem } from '../../pipeline/connectors/stream-runner.js';
import { useTestDatabase } from '../support/database.js';
import { FAST_BACKOFF, hubspotConfig, quietLogger } from '../support/hubspot.js';
import { checkExchanges, type RouteContract, schema, schemaFiles } from './contract-support.js';

const t = useTestDatabase('contract_hubspot');
const logger = quietLogger();

const OBJECTS = /^\/crm\/v3\/objects\/[a-z]+$/;
const ROUTES: RouteContract[] = [
  {
    method: 'GET',
    path: OBJECTS,
    response: { 200: 'hubspot/list-response', 429: 'hubspot/rate-limit-error', error: 'hubspot/error' },
  },
  {
    method: 'POST',
    path: /^\/crm\/v3\/objects\/[a-z]+\/search$/,
    request: 'hubspot/search-request',
    response: { 200: 'hubspot/search-response', 429: 'hubspot/rate-limit-error', error: 'hubspot/error' },
  },
  {
    method: 'POST',
    path: /^\/crm\/v3\/objects\/[a-z]+\/batch\/upsert$/,
    request: 'hubspot/batch-upsert-request',
    response: {
      200: 'hubspot/batch-upsert-response',
      207: 'hubspot/batch-upsert-response-207',
      429: 'hubspot/rate-limit-error',
      error: 'hubspot/error',
    },
  },
  {
    method: 'POST',
    path: /^\/crm\/v4\/associations\/[a-z]+\/[a-z]+\/batch\/read$/,
    request: 'hubspot/associations-batch-read-request',
    response: {
      200: 'hubspot/associations-batch-read-response',
      207: 'hubspot/associations-batch-read-response-207',
      429: 'hubspot/rate-limit-error',
      error: 'hubspot/error',
    },
  },
];

describe('HubSpot contract', () => {
  it('what the connector sends and the sandbox answers fits HubSpot’s documented schemas', async () => {
    const sb = new HubspotSandbox({
      seed: 41,
      counts: { companies: 30, products: 8, deals: 20, invoices: 10 },
      tokens: ['test-token'],
      record: true,
    });
    // Deals read their company from associations (v4 batch read): the first page's deals all have
    // one (200), the second page's do not (207, NO_ASSOCIATIONS_FOUND).
    const companies = sb.live('companies');
    for (const [i, d] of sb.live('deals').slice(0, 10).entries())
      sb.associations.associate('deals', d.id, 'companies', companies[i]!.id, { primary: i % 2 === 0 });
    const url = await sb.listen();
    try {
      const config = hubspotConfig(url, {
        listPageSize: 10,
        searchPageSize: 10,
        associations: { deals: { customer_ref: 'companies' } },
      });
      const deps = { staging: t.staging, logger };
      sb.server.respondNext('rateLimited', 'serverError');
      expect(
        (await syncSystem(deps, 'hs_contract', 'hubspot', config, { limits: FAST_BACKOFF })).status,
      ).toBe('completed');
      const later = Date.now() + 60_000;
      for (const [i, c] of sb.live('companies').slice(0, 12).entries())
        sb.update('companies', c.id, { name: `Renamed ${i}` }, later + i);
      sb.archive('deals', sb.live('deals')[0]!.id, later);
      sb.server.respondNext('dailyLimited');
      expect(
        (await syncSystem(deps, 'hs_contract', 'hubspot', config, { limits: FAST_BACKOFF })).status,
      ).toBe('paused');
      const inc = await syncSystem(deps, 'hs_contract', 'hubspot', config, { limits: FAST_BACKOFF });
      expect(inc.status, inc.error).toBe('completed');

      const writer = createHubspotWriter({ logger }, 'acme', 'hubspot', config, { limits: FAST_BACKOFF });
      try {
        await writer.upsert('order', [
          { erpId: 'E-1', fields: { number: 'SO-1', amount_total: '10.50' } },
          { erpId: 'E-2', fields: { number: 'SO-2', amount_total: 'ten' } },
        ]);
        await writer.upsert('order', [{ erpId: 'E-3', fields: { number: 'SO-3' } }]);
      } finally {
        await writer.close();
      }
      // An untraced batch with a bad value: HubSpot's 400 for the whole call.
      await fetch(`${url}/crm/v3/objects/deals/batch/upsert`, {
        method: 'POST',
        headers: { authorization: 'Bearer test-token', 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ id: 'E-9', idProperty: 'erp_id', properties: { amount: 'x' } }] }),
      });

      const { violations, used, unmatched } = checkExchanges(sb.server.exchanges, ROUTES);
      expect(unmatched).toEqual([]);
      expect(violations).toEqual([]);
      expect([...used].sort()).toEqual(schemaFiles('hubspot').sort());
      // WIRE.md "Batch upsert": the writer traces every input (E-9 is the hand-made untraced call).
      const written = sb.server.exchanges
        .filter((x) => x.path.endsWith('/batch/upsert'))
        .flatMap((x) => (x.body as { inputs: { id: string; objectWriteTraceId?: string }[] }).inputs)
        .filter((input) => input.id !== 'E-9');
      expect(written.length).toBe(3);
      for (const input of written) expect(input.objectWriteTraceId).toEqual(expect.any(String));
    } finally {
      await sb.close();
    }
  });

  it('the schemas reject what HubSpot would not send or accept', () => {
    expect(schema('hubspot/list-response')({ results: [{ id: 1, properties: {} }] })).toBe(false);
    // v4 associations: at most 1,000 inputs; a result needs its `from` and `to`.
    const inputs = (n: number) => ({ inputs: Array.from({ length: n }, (_, i) => ({ id: String(i) })) });
    expect(schema('hubspot/associations-batch-read-request')(inputs(1000))).toBe(true);
    expect(schema('hubspot/associations-batch-read-request')(inputs(1001))).toBe(false);
    const answer = { status: 'COMPLETE', startedAt: 'x', completedAt: 'x' };
    expect(
      schema('hubspot/associations-batch-read-response')({ ...answer, results: [{ from: { id: '1' } }] }),
    ).toBe(false);
    expect(
      schema('hubspot/search-request')({
        filterGroups: [],
        sorts: [],
        properties: [],
        limit: 'ten',
        after: '0',
      }),
    ).toBe(false);
    expect(
      schema('hubspot/batch-upsert-request')({ inputs: [{ idProperty: 'erp_id', properties: {} }] }),
    ).toBe(false);
    expect(
      schema('hubspot/rate-limit-error')({ status: 'error', message: 'x', errorType: 'RATE_LIMIT' }),
    ).toBe(false);
  });
});

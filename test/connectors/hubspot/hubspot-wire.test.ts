// HubSpot wire fidelity (issue 14, items 5 and 6, refresh in the writer): the sandbox answers as
// HubSpot does (pipeline/connectors/hubspot/WIRE.md), and the connector writes and searches through that.
import { describe, expect, it } from 'vitest';
import { HubspotSandbox } from '../../../pipeline/connectors/hubspot/hubspot-sandbox.js';
import { createHubspotWriter } from '../../../pipeline/connectors/hubspot/hubspot-writer.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { useTestDatabase } from '../../support/database.js';
import { FAST_BACKOFF, hubspotConfig, quietLogger } from '../../support/hubspot.js';

const t = useTestDatabase('hubspot_wire');
const logger = quietLogger();

const none = { companies: 0, products: 0, deals: 0, invoices: 0 };

async function withSandbox<T>(sb: HubspotSandbox, fn: (url: string) => Promise<T>): Promise<T> {
  const url = await sb.listen();
  try {
    return await fn(url);
  } finally {
    await sb.close();
  }
}

async function post(
  url: string,
  path: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: 'Bearer test-token', 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('HubSpot wire fidelity', () => {
  it('item 5: without objectWriteTraceId one bad value fails the whole batch; the writer traces every input', async () => {
    const sb = new HubspotSandbox({ seed: 1, counts: none, tokens: ['test-token'], record: true });
    const existing = sb.create('deals', { dealname: 'SO-1', amount: '10.00', erp_id: 'E-1' }, 1000);
    await withSandbox(sb, async (url) => {
      const untraced = await post(url, '/crm/v3/objects/deals/batch/upsert', {
        inputs: [
          { id: 'E-9', idProperty: 'erp_id', properties: { amount: 'not-a-number' } },
          { id: 'E-10', idProperty: 'erp_id', properties: { amount: '1' } },
        ],
      });
      expect(untraced.status).toBe(400);
      expect(untraced.body).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR' });
      expect(sb.live('deals').some((d) => d.properties.erp_id === 'E-10')).toBe(false); // nothing written
      const notUnique = await post(url, '/crm/v3/objects/deals/batch/upsert', {
        inputs: [
          { id: 'SO-1', idProperty: 'dealname', properties: { amount: '2' }, objectWriteTraceId: '0' },
        ],
      });
      expect(notUnique.status).toBe(400);

      const writer = createHubspotWriter({ logger }, 'acme', 'hubspot', hubspotConfig(url), {
        limits: FAST_BACKOFF,
      });
      try {
        const records = Array.from({ length: 150 }, (_, i) => ({
          erpId: `E-${i + 1}`,
          fields: { number: `SO-${i + 1}`, amount_total: i === 42 ? 'not-a-number' : `${i}.50` },
        }));
        const out = await writer.upsert('order', records);
        expect(out.failed).toEqual([
          { id: 'E-43', message: expect.stringMatching(/amount/), code: 'VALIDATION_ERROR' },
        ]);
        expect(out.written).toHaveLength(149);
        expect(out.written.find((w) => w.id === 'E-1')).toEqual({
          id: 'E-1',
          recordId: existing.id,
          created: false,
        });
      } finally {
        await writer.close();
      }
      const calls = sb.server.exchanges.filter((e) => e.path.endsWith('/batch/upsert') && e.status !== 400);
      expect(calls).toHaveLength(2);
      for (const c of calls) {
        const inputs = (c.body as { inputs: { objectWriteTraceId?: string }[] }).inputs;
        expect(new Set(inputs.map((i) => i.objectWriteTraceId)).size).toBe(inputs.length);
        expect(inputs.every((i) => typeof i.objectWriteTraceId === 'string')).toBe(true);
        // Results are matched by trace id: HubSpot does not promise to echo idProperty.
        const results = (c.response as { results: { properties: Record<string, unknown> }[] }).results;
        expect(results.every((r) => !('erp_id' in r.properties))).toBe(true);
      }
    });
  });

  it('item 6: search has its own per-second limit; the connector stays under it', async () => {
    const sb = new HubspotSandbox({ seed: 6, counts: { ...none, companies: 40 }, tokens: ['test-token'] });
    await withSandbox(sb, async (url) => {
      const burst = await Promise.all(
        Array.from({ length: 6 }, () =>
          post(url, '/crm/v3/objects/companies/search', {
            filterGroups: [],
            sorts: [],
            properties: [],
            limit: 1,
            after: '0',
          }),
        ),
      );
      const limited = burst.filter((r) => r.status === 429);
      expect(limited.length).toBeGreaterThan(0);
      expect(limited[0]!.body).toMatchObject({ errorType: 'RATE_LIMIT', policyName: 'SECONDLY' });
      await new Promise((r) => setTimeout(r, 1100));

      const config = hubspotConfig(url, { objects: ['companies'], searchPageSize: 5 });
      const full = await syncSystem({ staging: t.staging, logger }, 'hs_search', 'hubspot', config, {
        limits: FAST_BACKOFF,
      });
      expect(full.status, full.error).toBe('completed');
      const later = Date.now() + 60_000;
      for (const [i, c] of sb.live('companies').slice(0, 25).entries())
        sb.update('companies', c.id, { phone: String(i) }, later + i);
      const inc = await syncSystem({ staging: t.staging, logger }, 'hs_search', 'hubspot', config, {
        limits: FAST_BACKOFF,
      });
      expect(inc.status, inc.error).toBe('completed');
      expect(sb.server.requestsByPath.get('POST /crm/v3/objects/companies/search')).toBeGreaterThanOrEqual(
        10,
      );
      expect(inc.throttled).toBe(0);
    });
  }, 30_000);

  it('the refresh hook reaches the writer: an expired token is refreshed and the batch goes through', async () => {
    const sb = new HubspotSandbox({ seed: 2, counts: none, tokens: ['test-token'] });
    await withSandbox(sb, async (url) => {
      sb.server.expireToken();
      let refreshed = 0;
      const writer = createHubspotWriter(
        {
          logger,
          options: {
            refreshAuth: async () => {
              refreshed++;
              return sb.server.issueToken();
            },
          },
        },
        'acme',
        'hubspot',
        hubspotConfig(url),
        { limits: FAST_BACKOFF },
      );
      try {
        const out = await writer.upsert('order', [{ erpId: 'E-1', fields: { number: 'SO-1' } }]);
        expect(out.failed).toEqual([]);
        expect(out.written).toHaveLength(1);
        expect(refreshed).toBe(1);
      } finally {
        await writer.close();
      }
    });
  });
});

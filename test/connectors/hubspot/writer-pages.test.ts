// The write-back's read of HubSpot records as they are now (batch read by the ERP id property) is
// checked as the extraction's pages are: a 200 without `results`, or one that accounts for an id
// asked neither as a result nor as a not-found error, is re-read and, if it stays bad, fails the
// read — it never says "no such record" (which the write-back would take for one to create). And
// the list page rule: `results` without `paging` is the last page; no `results` is no page.
import { describe, expect, it } from 'vitest';
import type { SandboxResponse } from '../../../pipeline/connectors/http/sandbox-server.js';
import { hubspotListPage } from '../../../pipeline/connectors/hubspot/hubspot-pages.js';
import { HubspotSandbox } from '../../../pipeline/connectors/hubspot/hubspot-sandbox.js';
import { openWriter } from '../../../pipeline/connectors/open-writer.js';
import { useTestDatabase } from '../../support/database.js';
import { FAST_BACKOFF, hubspotConfig, quietLogger } from '../../support/hubspot.js';

const t = useTestDatabase('hubspot_writer_pages');
const READ = 'POST /crm/v3/objects/deals/batch/read';

async function withWriter(
  bad: (n: number, out: SandboxResponse) => SandboxResponse | undefined,
  check: (w: ReturnType<typeof openWriter>, sb: HubspotSandbox) => Promise<void>,
) {
  const sb = new HubspotSandbox({ seed: 1, counts: { companies: 0, products: 0, deals: 0, invoices: 0 } });
  sb.create('deals', { dealname: 'SO-1', amount: '10.00', erp_id: 'E-1' }, 1000);
  let n = 0;
  sb.server.tamper = (key, out) => (key === READ ? bad(++n, out) : undefined);
  const url = await sb.listen();
  const writer = openWriter(
    { staging: t.staging, logger: quietLogger() },
    'acme',
    'hubspot',
    hubspotConfig(url),
    {
      limits: { ...FAST_BACKOFF, maxRetries: 2 },
    },
  );
  try {
    await check(writer, sb);
  } finally {
    await writer.close();
    await sb.close();
  }
}

describe('HubSpot write-back reads', () => {
  it('a batch read answer without results is re-read, and the record is found', async () => {
    await withWriter(
      (n) => (n <= 2 ? { status: 200, body: { status: 'COMPLETE' } } : undefined),
      async (writer, sb) => {
        const [rec] = await writer.read!('order', [{ key: 'E-1' }]);
        expect(rec).toMatchObject({ key: 'E-1', found: true, fields: { number: 'SO-1' } });
        expect(sb.server.requestsByPath.get(READ)).toBe(3);
      },
    );
  });

  it('an answer that stays without results fails the read, naming the request', async () => {
    await withWriter(
      () => ({ status: 200, text: '<html>maintenance</html>', headers: { 'content-type': 'text/html' } }),
      async (writer) => {
        await expect(writer.read!('order', [{ key: 'E-1' }])).rejects.toThrow(
          /tenant acme, system hubspot: hubspot POST crm\/v3\/objects\/deals\/batch\/read \(current order records\) → 200: response is not JSON/,
        );
      },
    );
  });

  it('an id neither returned nor reported not found is not taken for an absent record', async () => {
    // Results empty, no errors: the answer lost E-1 rather than saying it has no record.
    await withWriter(
      (_n, out) => ({ ...out, status: 200, body: { status: 'COMPLETE', results: [] } }),
      async (writer) => {
        await expect(writer.read!('order', [{ key: 'E-1' }])).rejects.toThrow(
          /the response is not a page that can be read \(results: 1 id\(s\) asked for are neither a result nor a not-found error \(E-1\)\)/,
        );
      },
    );
  });

  it("HubSpot's own not-found (207 naming the id) is an absent record; the others are read", async () => {
    await withWriter(
      () => undefined,
      async (writer) => {
        const recs = await writer.read!('order', [{ key: 'E-1' }, { key: 'E-404' }]);
        expect(recs.map((r) => [r.key, r.found])).toEqual([
          ['E-1', true],
          ['E-404', false],
        ]);
      },
    );
  });
});

describe('HubSpot list pages', () => {
  it('results without paging is the last page; a body without results is no page', () => {
    const last = hubspotListPage.safeParse({ results: [{ id: '1', properties: {} }] });
    expect(last.success && last.data.paging?.next).toBeUndefined();
    expect(last.success).toBe(true);
    expect(hubspotListPage.safeParse({ results: [], paging: { next: { after: '10' } } }).success).toBe(true);
    expect(hubspotListPage.safeParse({ status: 'error', message: 'busy' }).success).toBe(false);
    expect(hubspotListPage.safeParse({ results: [], paging: { next: {} } }).success).toBe(false);
    expect(hubspotListPage.safeParse(undefined).success).toBe(false);
  });
});

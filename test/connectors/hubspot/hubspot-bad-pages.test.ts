// A HubSpot 200 that is not a page (an HTML error page, an empty or truncated body, a list page
// without `paging` while records remain, a search page whose total promises more) is re-read and,
// if it stays bad, fails the stream with a message naming tenant, system and object type — it is
// never taken for the end of the data, so the checkpoint never moves past unread records.
import { describe, expect, it } from 'vitest';
import type { SandboxResponse } from '../../../pipeline/connectors/http/sandbox-server.js';
import { HubspotSandbox } from '../../../pipeline/connectors/hubspot/hubspot-sandbox.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { loadCheckpoint } from '../../../staging/checkpoints.js';
import { useTestDatabase } from '../../support/database.js';
import {
  FAST_BACKOFF,
  hubspotConfig,
  quietLogger,
  sandboxSnapshot,
  stagingSnapshot,
} from '../../support/hubspot.js';

const t = useTestDatabase('hubspot_bad_pages');
const logger = quietLogger();
const LIST = 'GET /crm/v3/objects/companies';
const SEARCH = 'POST /crm/v3/objects/companies/search';

/** The live-list answers to LIST, numbered from 1 (archived lists ask with archived=true). */
function tamperLivePages(
  sb: HubspotSandbox,
  bad: (n: number, out: SandboxResponse) => SandboxResponse | undefined,
) {
  let n = 0;
  sb.server.tamper = (key, out) => {
    if (key !== LIST) return undefined;
    const body = out.body as { results?: { archived?: boolean }[] } | undefined;
    if (body?.results?.some((r) => r.archived)) return undefined;
    return bad(++n, out);
  };
}

async function run(sb: HubspotSandbox, tenant: string, extra: Record<string, unknown> = {}) {
  const url = await sb.listen();
  try {
    const config = hubspotConfig(url, {
      objects: ['companies'],
      listPageSize: 10,
      stageBatchRows: 10,
      limits: { requestsPerSecond: 10_000, concurrency: 2, maxRetries: 2, timeoutMs: 5000 },
      ...extra,
    });
    return await syncSystem({ staging: t.staging, logger }, tenant, 'hubspot', config, {
      limits: FAST_BACKOFF,
    });
  } finally {
    await sb.close();
  }
}

const checkpoint = (tenant: string, stream = 'companies') =>
  loadCheckpoint(t.staging.pool, { tenant, system: 'hubspot', stream });

describe('HubSpot pages that are not pages', () => {
  it('a list page whose paging.next has no `after` fails the stream; the checkpoint stays before it', async () => {
    const sb = new HubspotSandbox({ seed: 3, counts: { companies: 45, products: 0, deals: 0, invoices: 0 } });
    // Every answer to the third page loses the cursor paging depends on: read as it was, it
    // would look like the last page.
    tamperLivePages(sb, (n, out) => {
      if (n < 3) return undefined;
      const body = out.body as { paging?: { next?: { link?: string } } };
      return { ...out, body: { ...body, paging: { next: { link: body.paging?.next?.link ?? '' } } } };
    });
    const report = await run(sb, 'nopaging');
    expect(report.status).toBe('failed');
    expect(report.error).toMatch(
      /tenant nopaging, system hubspot: hubspot GET crm\/v3\/objects\/companies \(companies \(customer\)\) → 200: the response is not a page/,
    );
    // Still the full load, resumed after the rows staged before the bad page; nothing past it.
    expect(await checkpoint('nopaging')).toMatchObject({ phase: 'full' });
    sb.server.tamper = undefined;
    const again = await run(sb, 'nopaging');
    expect(again.status).toBe('completed');
    expect(await stagingSnapshot(t, 'nopaging', ['companies'])).toEqual(sandboxSnapshot(sb, ['companies']));
  });

  it('a 200 without results (an error body) fails the stream', async () => {
    const sb = new HubspotSandbox({ seed: 6, counts: { companies: 5, products: 0, deals: 0, invoices: 0 } });
    tamperLivePages(sb, () => ({ status: 200, body: { status: 'error', message: 'internal error' } }));
    const report = await run(sb, 'noresults');
    expect(report.status).toBe('failed');
    expect(report.error).toMatch(
      /tenant noresults, system hubspot: .*\(companies \(customer\)\) → 200: .*results/,
    );
    expect(await checkpoint('noresults')).toBeNull();
  });

  it('HTML, empty and truncated 200s are re-read, and the load completes with every record', async () => {
    const sb = new HubspotSandbox({ seed: 4, counts: { companies: 35, products: 0, deals: 0, invoices: 0 } });
    const bad: SandboxResponse[] = [
      {
        status: 200,
        text: '<html><body>Please try again</body></html>',
        headers: { 'content-type': 'text/html' },
      },
      { status: 200, text: '' },
      { status: 200, text: '{"results":[{"id":"1","properties":{}}],"pag' },
    ];
    tamperLivePages(sb, (n) => (n >= 2 && n <= 4 ? bad[n - 2] : undefined));
    const report = await run(sb, 'flaky', {
      limits: { requestsPerSecond: 10_000, concurrency: 2, maxRetries: 4, timeoutMs: 5000 },
    });
    expect(report.status).toBe('completed');
    expect(report.retries).toBe(3);
    expect(await stagingSnapshot(t, 'flaky', ['companies'])).toEqual(sandboxSnapshot(sb, ['companies']));
  });

  it('a search page promising more results without paging fails the incremental stream; since stays', async () => {
    const sb = new HubspotSandbox({ seed: 5, counts: { companies: 12, products: 0, deals: 0, invoices: 0 } });
    expect((await run(sb, 'search')).status).toBe('completed');
    const before = await checkpoint('search');
    expect(before).toMatchObject({ phase: 'incremental' });
    const later = Date.now() + 1000;
    for (const r of sb.live('companies').slice(0, 5))
      sb.update('companies', r.id, { name: 'changed' }, later);
    sb.server.tamper = (key, out) => {
      if (key !== SEARCH) return undefined;
      const { paging: _gone, ...rest } = out.body as Record<string, unknown>;
      return { ...out, body: { ...rest, total: 99 } };
    };
    const report = await run(sb, 'search', { searchPageSize: 2 });
    expect(report.status).toBe('failed');
    expect(report.error).toMatch(/total says more records match than the page holds/);
    expect(await checkpoint('search')).toEqual(before);
    sb.server.tamper = undefined;
    expect((await run(sb, 'search', { searchPageSize: 2 })).status).toBe('completed');
    expect(await stagingSnapshot(t, 'search', ['companies'])).toEqual(sandboxSnapshot(sb, ['companies']));
  });
});

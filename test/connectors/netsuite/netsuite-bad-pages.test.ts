// A NetSuite 200 that is not a SuiteQL page (no `hasMore`, no `items`, HTML, truncated JSON) is
// re-read and, if it stays bad, fails the stream with a message naming tenant, system and stream —
// never taken for the last page, so the checkpoint never moves past unread rows.
import { describe, expect, it } from 'vitest';
import type { SandboxResponse } from '../../../pipeline/connectors/http/sandbox-server.js';
import { NetsuiteSandbox } from '../../../pipeline/connectors/netsuite/netsuite-sandbox.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import { loadCheckpoint } from '../../../staging/checkpoints.js';
import { useTestDatabase } from '../../support/database.js';
import { FAST_BACKOFF, netsuiteConfig, sandboxSnapshot, stagingSnapshot } from '../../support/netsuite.js';

const t = useTestDatabase('netsuite_bad_pages');
const logger = createLogger({ level: 'silent' });
const SUITEQL = 'POST /services/rest/query/v1/suiteql';
const COUNTS = { customer: 35, item: 0, salesorder: 0, invoice: 0, payment: 0 };

/** Tampers with the answers to record-stream pages (rows with `lastmodified`), numbered from 1. */
function tamperStreamPages(
  sb: NetsuiteSandbox,
  bad: (n: number, out: SandboxResponse) => SandboxResponse | undefined,
) {
  let n = 0;
  sb.server.tamper = (key, out) => {
    const items = (out.body as { items?: Record<string, unknown>[] } | undefined)?.items;
    if (key !== SUITEQL || !items?.[0] || !('lastmodified' in items[0])) return undefined;
    return bad(++n, out);
  };
}

async function run(sb: NetsuiteSandbox, tenant: string, maxRetries = 2) {
  const url = await sb.listen();
  try {
    const config = netsuiteConfig(url, {
      streams: ['customer'],
      deletes: false,
      pageSize: 10,
      stageBatchRows: 10,
      limits: { requestsPerSecond: 10_000, concurrency: 2, maxRetries, timeoutMs: 10_000 },
    });
    return await syncSystem({ staging: t.staging, logger }, tenant, 'netsuite', config, {
      limits: FAST_BACKOFF,
    });
  } finally {
    await sb.close();
  }
}

const checkpoint = (tenant: string) =>
  loadCheckpoint(t.staging.pool, { tenant, system: 'netsuite', stream: 'customer' });

describe('NetSuite pages that are not pages', () => {
  it('a page without hasMore fails the stream; the checkpoint stays before it', async () => {
    const sb = new NetsuiteSandbox({ seed: 7, counts: COUNTS, tokens: ['ns-token'] });
    tamperStreamPages(sb, (n, out) => {
      if (n < 3) return undefined;
      const { hasMore: _gone, ...rest } = out.body as Record<string, unknown>;
      return { ...out, body: rest };
    });
    const report = await run(sb, 'nohasmore');
    expect(report.status).toBe('failed');
    expect(report.error).toMatch(
      /tenant nohasmore, system netsuite: netsuite POST services\/rest\/query\/v1\/suiteql \(stream customer\) → 200: the response is not a page that can be read \(hasMore: /,
    );
    // Still the full load, at the last id staged before the bad page.
    expect(await checkpoint('nohasmore')).toMatchObject({ phase: 'full', lastId: expect.any(Number) });
    sb.server.tamper = undefined;
    expect((await run(sb, 'nohasmore')).status).toBe('completed');
    expect(await stagingSnapshot(t, 'nohasmore')).toEqual(sandboxSnapshot(sb));
  });

  it('HTML, empty, truncated and item-less 200s are re-read, and the load completes', async () => {
    const sb = new NetsuiteSandbox({ seed: 8, counts: COUNTS, tokens: ['ns-token'] });
    const bad: SandboxResponse[] = [
      {
        status: 200,
        text: '<!DOCTYPE html><html>Maintenance</html>',
        headers: { 'content-type': 'text/html' },
      },
      { status: 200, text: '' },
      { status: 200, text: '{"links":[],"count":10,"hasMore":true,"items":[{"id":"1"' },
      { status: 200, body: { links: [], count: 0, hasMore: false } },
    ];
    tamperStreamPages(sb, (n) => (n >= 2 && n <= 5 ? bad[n - 2] : undefined));
    const report = await run(sb, 'flaky', 5);
    expect(report.status).toBe('completed');
    expect(await stagingSnapshot(t, 'flaky')).toEqual(sandboxSnapshot(sb));
  });
});

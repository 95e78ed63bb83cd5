// The write-back's read of NetSuite records as they are now (SuiteQL `WHERE externalid IN (…)`) is
// checked as the extraction's pages are: a 200 without `items`/`hasMore`, or `hasMore` on a page
// without rows, is re-read and, if it stays bad, fails the read — never "no such record", which
// the write-back would take for one to create. A read that spans pages follows `hasMore`.
import { describe, expect, it } from 'vitest';
import type { SandboxResponse } from '../../../pipeline/connectors/http/sandbox-server.js';
import { NetsuiteSandbox } from '../../../pipeline/connectors/netsuite/netsuite-sandbox.js';
import { openWriter } from '../../../pipeline/connectors/open-writer.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import { useTestDatabase } from '../../support/database.js';
import { FAST_BACKOFF, netsuiteConfig } from '../../support/netsuite.js';

const t = useTestDatabase('netsuite_writer_pages');
const SUITEQL = 'POST /services/rest/query/v1/suiteql';
const KEYS = ['hs-1', 'hs-2', 'hs-3', 'hs-4', 'hs-5', 'hs-6'].map((key) => ({ key }));

/** Answers to the read's own query (rows with an external id and a stamp), numbered from 1. */
async function withWriter(
  bad: (n: number, out: SandboxResponse) => SandboxResponse | undefined,
  check: (w: ReturnType<typeof openWriter>, sb: NetsuiteSandbox) => Promise<void>,
) {
  const sb = new NetsuiteSandbox({
    seed: 7,
    counts: { customer: 6, item: 0, salesorder: 0, invoice: 0, payment: 0 },
    tokens: ['ns-token'],
  });
  let n = 0;
  sb.server.tamper = (key, out) => {
    const items = (out.body as { items?: Record<string, unknown>[] } | undefined)?.items;
    if (key !== SUITEQL || !items?.[0] || !('externalid' in items[0]) || !('lastmodified' in items[0]))
      return undefined;
    return bad(++n, out);
  };
  const url = await sb.listen();
  const writer = openWriter(
    { staging: t.staging, logger: createLogger({ level: 'silent' }) },
    'acme',
    'netsuite',
    netsuiteConfig(url, {
      limits: { requestsPerSecond: 10_000, concurrency: 2, maxRetries: 2, timeoutMs: 10_000 },
    }),
    { limits: FAST_BACKOFF },
  );
  try {
    await check(writer, sb);
  } finally {
    await writer.close();
    await sb.close();
  }
}

const foundKeys = (recs: { key: string; found: boolean }[]) => recs.filter((r) => r.found).map((r) => r.key);

describe('NetSuite write-back reads', () => {
  it('pages without items or hasMore are re-read; the records are found as without them', async () => {
    let expected: string[] = [];
    await withWriter(
      () => undefined,
      async (writer) => {
        expected = foundKeys(await writer.read!('customer', KEYS));
      },
    );
    expect(expected.length).toBeGreaterThan(0);
    await withWriter(
      (n, out) => {
        if (n > 2) return undefined;
        const { [n === 1 ? 'items' : 'hasMore']: _gone, ...rest } = out.body as Record<string, unknown>;
        return { ...out, body: rest };
      },
      async (writer, sb) => {
        expect(foundKeys(await writer.read!('customer', KEYS))).toEqual(expected);
        expect(sb.server.requestsByPath.get(SUITEQL)).toBeGreaterThanOrEqual(3);
      },
    );
  });

  it('a page that stays bad fails the read, naming the request', async () => {
    await withWriter(
      () => ({ status: 200, body: { items: [], hasMore: true } }),
      async (writer) => {
        await expect(writer.read!('customer', KEYS)).rejects.toThrow(
          /tenant acme, system netsuite: netsuite POST services\/rest\/query\/v1\/suiteql \(current customer records\) → 200: the response is not a page that can be read \(hasMore: hasMore is true on a page without rows\)/,
        );
      },
    );
  });

  it('a read whose answer comes in several pages follows hasMore', async () => {
    let expected: string[] = [];
    await withWriter(
      () => undefined,
      async (writer) => {
        expected = foundKeys(await writer.read!('customer', KEYS));
      },
    );
    expect(expected.length).toBeGreaterThan(1);
    // The first answer holds one row and says there is more: the rest comes from the next offset.
    await withWriter(
      (n, out) => {
        if (n !== 1) return undefined;
        const body = out.body as { items: unknown[] };
        return { ...out, body: { ...body, items: body.items.slice(0, 1), count: 1, hasMore: true } };
      },
      async (writer) => {
        expect(foundKeys(await writer.read!('customer', KEYS)).sort()).toEqual([...expected].sort());
      },
    );
  });
});

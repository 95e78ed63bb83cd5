// What the shared ApiClient checks in a 200's body before a connector sees it: UTF-8 (an error
// naming tenant, system, request and the byte offset, never silent U+FFFD, also across chunk
// boundaries and in streamed bodies), a size cap (terminal, not retried), and a page schema (a
// body without the fields paging depends on is transient: retried, then a clear error).
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ApiClient, ApiError, type Classification } from '../../../pipeline/connectors/http/api-client.js';
import { firstInvalidUtf8, Utf8Stream } from '../../../pipeline/connectors/http/response-body.js';
import { type SandboxResponse, SandboxServer } from '../../../pipeline/connectors/http/sandbox-server.js';
import { createLogger } from '../../../pipeline/log/logger.js';

const logger = createLogger({ level: 'silent' });
const fault = (): SandboxResponse => ({ status: 503, body: { message: 'down' } });
const vendor = { rateLimited: fault, dailyLimited: fault, serverError: fault, unauthorized: fault };
const policy = {
  vendor: 'test',
  authHeaders: () => ({}),
  classify: (status: number): Classification =>
    status >= 500 ? { kind: 'transient', reason: 'down' } : { kind: 'terminal', reason: 'bad' },
};

const servers: SandboxServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup(handler: (n: number) => SandboxResponse, maxBodyBytes?: number) {
  const server = new SandboxServer({ vendor });
  let calls = 0;
  server.route('GET', '/page', () => handler(++calls));
  servers.push(server);
  const client = new ApiClient({
    baseUrl: await server.listen(),
    policy,
    tenant: 'acme',
    system: 'crm',
    logger,
    limits: {
      requestsPerSecond: 1000,
      concurrency: 2,
      maxRetries: 2,
      timeoutMs: 2000,
      minBackoffMs: 1,
      maxBackoffMs: 5,
      ...(maxBodyBytes ? { maxBodyBytes } : {}),
    },
  });
  return { client, calls: () => calls };
}

async function* pieces(...parts: Buffer[]): AsyncIterable<Buffer> {
  for (const p of parts) {
    yield p;
    await new Promise((r) => setTimeout(r, 5));
  }
}

const page = z.object({ items: z.array(z.unknown()), hasMore: z.boolean() });

describe('response bodies', () => {
  it('a body that is not UTF-8 fails with the request and the byte offset, after its retries', async () => {
    const bytes = Buffer.concat([Buffer.from('{"name":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
    const { client, calls } = await setup(() => ({ status: 200, text: bytes }));
    const err = await client.json('GET', '/page').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'INVALID_UTF8', kind: 'transient' });
    expect((err as Error).message).toBe(
      'tenant acme, system crm: test GET /page: the response body is not valid UTF-8 (first bad byte at offset 12)',
    );
    expect(calls()).toBe(3);
  });

  it('a streamed body is checked too, a character split between chunks is fine', async () => {
    const euro = Buffer.from('€'); // e2 82 ac
    const good = await setup(() => ({
      status: 200,
      stream: pieces(Buffer.from('id\n'), euro.subarray(0, 1), euro.subarray(1), Buffer.from('\n')),
    }));
    const res = await good.client.request('GET', '/page', { accept: 'text/csv' });
    expect(await res.text()).toBe('id\n€\n');
    const bad = await setup(() => ({
      status: 200,
      stream: pieces(Buffer.from('id\nok\n'), Buffer.from([0x61, 0xff, 0x62])),
    }));
    const res2 = await bad.client.request('GET', '/page', { accept: 'text/csv' });
    const err = await res2.text().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_UTF8', message: expect.stringContaining('offset 7') });
    // A body that ends inside a character.
    const cut = await setup(() => ({ status: 200, stream: pieces(Buffer.from('ab'), euro.subarray(0, 2)) }));
    const res3 = await cut.client.request('GET', '/page');
    await expect(res3.text()).rejects.toMatchObject({ code: 'INVALID_UTF8', message: /offset 2\)/ });
  });

  it('Utf8Stream agrees with the decoder on any split of any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.array(fc.nat(40), { maxLength: 4 }), (bytes, cuts) => {
        const s = new Utf8Stream();
        const at = [...new Set(cuts.map((c) => Math.min(c, bytes.length)))].sort((a, b) => a - b);
        let found: number | null = null;
        let from = 0;
        for (const c of [...at, bytes.length]) {
          found ??= s.feed(bytes.subarray(from, c));
          from = c;
        }
        found ??= s.end();
        let valid = true;
        try {
          new TextDecoder('utf-8', { fatal: true }).decode(bytes);
        } catch {
          valid = false;
        }
        expect(found === null).toBe(valid);
        if (!valid) expect(found).toBe(firstInvalidUtf8(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('a body over the size cap is a terminal error, not retried', async () => {
    const big = JSON.stringify({ items: 'x'.repeat(5000), hasMore: false });
    const declared = await setup(
      () => ({ status: 200, text: big, headers: { 'content-length': String(big.length) } }),
      1024,
    );
    const err = await declared.client.json('GET', '/page').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BODY_TOO_LARGE', kind: 'terminal' });
    expect((err as Error).message).toBe(
      `tenant acme, system crm: test GET /page: the response body is larger than 1024 bytes (Content-Length ${big.length}); raise limits.maxBodyBytes or ask for smaller pages`,
    );
    expect(declared.calls()).toBe(1);
    // Without a Content-Length the body is cut at the cap.
    const streamed = await setup(
      () => ({ status: 200, stream: pieces(Buffer.alloc(800, 0x61), Buffer.alloc(800, 0x61)) }),
      1024,
    );
    await expect(streamed.client.json('GET', '/page')).rejects.toMatchObject({
      code: 'BODY_TOO_LARGE',
      message: /cut while reading/,
    });
    expect(streamed.calls()).toBe(1);
  });

  it('a 200 that is not a page (HTML, empty, truncated, fields missing) is retried, then a clear error', async () => {
    const bodies: SandboxResponse[] = [
      {
        status: 200,
        text: '<html><body>Service unavailable</body></html>',
        headers: { 'content-type': 'text/html' },
      },
      { status: 200, text: '' },
      { status: 200, text: '{"items":[{"id":"1"}],"hasMo' },
      { status: 200, body: { items: [{ id: '1' }] } },
    ];
    for (const body of bodies) {
      const { client, calls } = await setup(() => body);
      const err = await client
        .json('GET', '/page', { schema: page, about: 'stream customer' })
        .catch((e) => e);
      expect(err).toMatchObject({ kind: 'transient' });
      expect(['BAD_JSON', 'BAD_PAGE']).toContain((err as ApiError).code);
      expect((err as Error).message).toMatch(
        /^tenant acme, system crm: test GET \/page \(stream customer\) → 200: /,
      );
      expect(calls()).toBe(3);
    }
    // A good page after a bad one is read.
    const { client } = await setup((n) =>
      n === 1 ? { status: 200, body: {} } : { status: 200, body: { items: [1], hasMore: false } },
    );
    await expect(client.json('GET', '/page', { schema: page })).resolves.toEqual({
      items: [1],
      hasMore: false,
    });
  });
});

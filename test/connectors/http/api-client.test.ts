// The shared ApiClient against a local SandboxServer: retries of 429/5xx/dropped connections and
// timeouts with bounded attempts, Retry-After honoured, daily limit stops at once, 401 refreshes
// the token and retries exactly once, and the per-tenant rate limit and concurrency cap hold.
import { afterEach, describe, expect, it } from 'vitest';
import {
  ApiClient,
  ApiError,
  type Classification,
  type ClientLimits,
  DailyLimitError,
  RetryBudget,
  retryAfterMs,
  type VendorPolicy,
} from '../../../pipeline/connectors/http/api-client.js';
import {
  type FaultConfig,
  type SandboxResponse,
  SandboxServer,
} from '../../../pipeline/connectors/http/sandbox-server.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import { ManualTimers } from '../../support/manual-timers.js';
import { until } from '../../support/wait.js';

const logger = createLogger({ level: 'silent' });

/** A vendor in the Salesforce style: array error bodies, 403 REQUEST_LIMIT_EXCEEDED. */
const vendorFaults = {
  rateLimited: (): SandboxResponse => ({
    status: 429,
    headers: { 'retry-after': '0' },
    body: [{ message: 'too many requests', errorCode: 'REQUEST_LIMIT' }],
  }),
  dailyLimited: (): SandboxResponse => ({
    status: 403,
    body: [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }],
  }),
  serverError: (): SandboxResponse => ({
    status: 503,
    body: [{ message: 'down', errorCode: 'SERVER_UNAVAILABLE' }],
  }),
  unauthorized: (): SandboxResponse => ({
    status: 401,
    body: [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }],
  }),
};

class TestPolicy implements VendorPolicy {
  readonly vendor = 'test';
  refreshes = 0;
  constructor(
    public token: string,
    private readonly nextToken?: string,
  ) {}
  authHeaders() {
    return { authorization: `Bearer ${this.token}` };
  }
  classify(status: number, headers: Headers, body: string): Classification {
    if (status === 401) return { kind: 'auth', reason: body };
    if (status === 403 && body.includes('REQUEST_LIMIT_EXCEEDED'))
      return { kind: 'daily_limit', reason: body };
    if (status === 429 || status >= 500) {
      const wait = retryAfterMs(headers);
      return wait === undefined
        ? { kind: 'transient', reason: body }
        : { kind: 'transient', reason: body, retryAfterMs: wait };
    }
    return { kind: 'terminal', reason: body };
  }
  async refreshAuth() {
    this.refreshes++;
    if (this.nextToken) this.token = this.nextToken;
  }
}

const servers: SandboxServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup(opts: {
  faults?: FaultConfig;
  tokens?: string[];
  limits?: Partial<ClientLimits>;
  policy?: TestPolicy;
  handler?: (n: number) => SandboxResponse | Promise<SandboxResponse>;
  /** Header and idle timeouts fire when the test fires them, not on the wall clock. */
  timers?: ManualTimers;
}) {
  const server = new SandboxServer({
    vendor: vendorFaults,
    tokens: opts.tokens ?? ['t0'],
    faults: opts.faults ?? {},
  });
  let calls = 0;
  server.route('GET', '/thing/:id', (_req, params) => {
    calls++;
    return opts.handler ? opts.handler(calls) : { status: 200, body: { id: params.id, calls } };
  });
  servers.push(server);
  const baseUrl = await server.listen();
  const policy = opts.policy ?? new TestPolicy('t0');
  const client = new ApiClient({
    baseUrl,
    policy,
    tenant: 'acme',
    system: 'crm',
    logger,
    ...(opts.timers ? { timers: opts.timers } : {}),
    limits: {
      requestsPerSecond: 1000,
      concurrency: 4,
      maxRetries: 4,
      timeoutMs: 2000,
      minBackoffMs: 5,
      maxBackoffMs: 20,
      ...opts.limits,
    },
  });
  return { server, client, policy, handlerCalls: () => calls };
}

describe('ApiClient', () => {
  it('retries a 429 and waits for its Retry-After', async () => {
    const { client } = await setup({
      limits: { maxBackoffMs: 1000, minBackoffMs: 1 },
      handler: (n) =>
        n === 1
          ? { status: 429, headers: { 'retry-after': '0.3' }, body: [{ errorCode: 'REQUEST_LIMIT' }] }
          : { status: 200, body: { ok: n } },
    });
    const start = Date.now();
    const out = await client.json<{ ok: number }>('GET', '/thing/1');
    expect(out.ok).toBe(2);
    expect(Date.now() - start).toBeGreaterThanOrEqual(280);
    expect(client.stats).toMatchObject({ requests: 2, retries: 1, throttled: 1 });
  });

  it('caps a huge Retry-After at the maximum backoff', async () => {
    const { client } = await setup({
      limits: { maxBackoffMs: 50 },
      handler: (n) =>
        n === 1 ? { status: 429, headers: { 'retry-after': '3600' }, body: [] } : { status: 200, body: {} },
    });
    const start = Date.now();
    await client.json('GET', '/thing/1');
    expect(Date.now() - start).toBeLessThan(1500);
  });

  it('retries 5xx and succeeds', async () => {
    const { client } = await setup({
      handler: (n) => (n <= 2 ? vendorFaults.serverError() : { status: 200, body: { n } }),
    });
    expect(await client.json('GET', '/thing/1')).toEqual({ n: 3 });
    expect(client.stats.retries).toBe(2);
  });

  it('bounds retries: a permanent 5xx fails as a transient ApiError after maxRetries + 1 attempts', async () => {
    const { client, handlerCalls } = await setup({
      limits: { maxRetries: 3 },
      handler: () => vendorFaults.serverError(),
    });
    const err = await client.json('GET', '/thing/1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ kind: 'transient', status: 503 });
    expect((err as Error).message).toMatch(/test GET \/thing\/1 → 503/);
    expect(handlerCalls()).toBe(4);
  });

  it('retries dropped connections (seeded faults) and counts every retry', async () => {
    const { client, server } = await setup({ faults: { dropRate: 0.4, seed: 7 } });
    for (let i = 0; i < 20; i++) await client.json('GET', `/thing/${i}`);
    expect(server.counters.faulted).toBeGreaterThan(0);
    expect(client.stats.retries).toBe(server.counters.faulted);
    expect(client.stats.requests).toBe(20 + server.counters.faulted);
  });

  it('treats a timeout as transient and gives up after the cap', async () => {
    const timers = new ManualTimers();
    const { client, server } = await setup({
      timers,
      limits: { timeoutMs: 100, maxRetries: 2 },
      // Every attempt's time is up while the server still works on it.
      handler: () => {
        timers.fire(100);
        return { status: 200, body: {} };
      },
    });
    const err = await client.json('GET', '/thing/1').catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ApiError', kind: 'transient', code: 'TIMEOUT' });
    expect((err as Error).message).toMatch(/no response within 100 ms/);
    expect(server.counters.requests).toBe(3);
  });

  it('recovers from a slow response by retrying', async () => {
    const timers = new ManualTimers();
    const { client } = await setup({
      timers,
      limits: { timeoutMs: 100 },
      // The first attempt's time is up while it is served; the second is answered in time.
      handler: (n) => {
        if (n === 1) timers.fire(100);
        return { status: 200, body: { n } };
      },
    });
    expect(await client.json('GET', '/thing/1')).toEqual({ n: 2 });
  });

  it('stops at once with DailyLimitError on the daily limit (no retries)', async () => {
    const { client, server } = await setup({ faults: { dailyLimit: 2 } });
    await client.json('GET', '/thing/1');
    await client.json('GET', '/thing/2');
    const err = await client.json('GET', '/thing/3').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DailyLimitError);
    expect(err).toMatchObject({ kind: 'paused', detail: { vendor: 'test', tenant: 'acme', system: 'crm' } });
    expect((err as Error).message).toMatch(/REQUEST_LIMIT_EXCEEDED/);
    expect(server.counters.requests).toBe(3);
  });

  it('on 401 refreshes the token and retries once', async () => {
    const policy = new TestPolicy('stale', 'fresh');
    const { client, server } = await setup({ tokens: ['fresh'], policy });
    expect(await client.json('GET', '/thing/1')).toMatchObject({ id: '1' });
    expect(policy.refreshes).toBe(1);
    expect(server.counters.requests).toBe(2);
  });

  it('on a second 401 after refreshing fails terminally (refresh only once)', async () => {
    const policy = new TestPolicy('stale', 'still-wrong');
    const { client, server } = await setup({ tokens: ['fresh'], policy });
    const err = await client.json('GET', '/thing/1').catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ApiError', kind: 'terminal', status: 401, code: 'AUTH' });
    expect((err as Error).message).toMatch(/INVALID_SESSION_ID/);
    expect(policy.refreshes).toBe(1);
    expect(server.counters.requests).toBe(2);
  });

  it('does not retry terminal errors', async () => {
    const { client, handlerCalls } = await setup({
      handler: () => ({ status: 400, body: [{ errorCode: 'MALFORMED_QUERY', message: 'bad' }] }),
    });
    await expect(client.json('GET', '/thing/1')).rejects.toMatchObject({ kind: 'terminal', status: 400 });
    expect(handlerCalls()).toBe(1);
  });

  it('holds the per-tenant rate limit and concurrency cap', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const { client } = await setup({
      limits: { requestsPerSecond: 50, concurrency: 2 },
      handler: async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 30));
        inFlight--;
        return { status: 200, body: {} };
      },
    });
    const start = Date.now();
    await Promise.all(Array.from({ length: 10 }, (_, i) => client.json('GET', `/thing/${i}`)));
    // 10 requests at 50/s: at least 9 × 20 ms between starts.
    expect(Date.now() - start).toBeGreaterThanOrEqual(170);
    expect(maxInFlight).toBeLessThanOrEqual(2);
  });

  it('survives a fault storm with bounded retries', async () => {
    const { client, server } = await setup({
      faults: { rateLimitRate: 0.1, serverErrorRate: 0.1, dropRate: 0.1, seed: 42 },
      limits: { maxRetries: 8 },
    });
    for (let i = 0; i < 40; i++) await client.json('GET', `/thing/${i}`);
    expect(client.stats.retries).toBe(server.counters.faulted);
    expect(client.stats.retries).toBeLessThan(40 * 8);
  });
});

/** A body of `pieces` strings, each after `gapMs` (the first at once, so headers go out at once). */
function trickle(pieces: number, gapMs: number): SandboxResponse {
  return {
    status: 200,
    headers: { 'content-type': 'text/plain' },
    stream: (async function* () {
      for (let i = 0; i < pieces; i++) {
        if (i) await new Promise((r) => setTimeout(r, gapMs));
        yield `piece ${i};`;
      }
    })(),
  };
}

/** A promise the test opens when it is done with a stalled body (so the server can end it). */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => {
    open = r;
  });
  return { wait, open };
}

/** A body whose first piece comes at once and whose second waits for `until`. */
function stalled(until: Promise<void>): SandboxResponse {
  return {
    status: 200,
    headers: { 'content-type': 'text/plain' },
    stream: (async function* () {
      yield 'piece 0;';
      await until;
      yield 'piece 1;';
    })(),
  };
}

describe('ApiClient timeouts', () => {
  it('timeoutMs covers the wait for headers only: a body that keeps arriving is read to the end', async () => {
    const timers = new ManualTimers();
    const { client } = await setup({
      timers,
      limits: { timeoutMs: 150, idleTimeoutMs: 250 },
      handler: () => trickle(8, 5),
    });
    const res = await client.request('GET', '/thing/1');
    // The headers are in: no header timeout is left to cut the body, however long it takes.
    expect(timers.fire(150)).toBe(0);
    const text = await res.text();
    expect(text).toBe(Array.from({ length: 8 }, (_, i) => `piece ${i};`).join(''));
    // The body was read under the idle timeout instead.
    expect(timers.created).toContain(250);
  });

  it('a body that stalls longer than idleTimeoutMs fails with a transient IDLE_TIMEOUT', async () => {
    const timers = new ManualTimers();
    const stall = gate();
    const { client } = await setup({
      timers,
      limits: { timeoutMs: 1000, idleTimeoutMs: 100 },
      handler: () => stalled(stall.wait),
    });
    const res = await client.request('GET', '/thing/1');
    const reading = res.text().catch((e: unknown) => e);
    // A read is waiting on the stalled body: its idle time is up.
    await until('a read waiting on the stalled body', () => timers.count(100) > 0);
    timers.fire(100);
    const err = await reading;
    stall.open();
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ kind: 'transient', code: 'IDLE_TIMEOUT', status: 200 });
    expect((err as Error).message).toMatch(/no data for 100 ms while reading the body/);
  });

  it('json() reads the body inside the attempt: a stalled body is retried', async () => {
    const timers = new ManualTimers();
    const stall = gate();
    const { client, handlerCalls } = await setup({
      timers,
      limits: { timeoutMs: 1000, idleTimeoutMs: 100 },
      handler: (n) => (n === 1 ? stalled(stall.wait) : { status: 200, body: { n } }),
    });
    const result = client.json('GET', '/thing/1');
    await until('the first attempt reading its stalled body', () => timers.count(100) > 0);
    timers.fire(100);
    expect(await result).toEqual({ n: 2 });
    expect(handlerCalls()).toBe(2);
    stall.open();
  });

  it('a consumer that pauses longer than idleTimeoutMs is not cut off', async () => {
    const timers = new ManualTimers();
    const { client } = await setup({
      timers,
      limits: { timeoutMs: 1000, idleTimeoutMs: 80 },
      handler: () => trickle(4, 0),
    });
    const res = await client.request('GET', '/thing/1');
    let text = '';
    for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += Buffer.from(piece).toString();
      // While the consumer holds off (staging a batch, say) and the bytes are in, no idle
      // timer runs: however long the pause, nothing can cut the body.
      await until('no idle timer during the pause', () => timers.count(80) === 0);
    }
    expect(text).toBe('piece 0;piece 1;piece 2;piece 3;');
  });
});

describe('ApiClient retry budget', () => {
  it('requests sharing a RetryBudget draw their retries from it: attempts never multiply', async () => {
    const { client, handlerCalls } = await setup({
      limits: { maxRetries: 3 },
      handler: () => vendorFaults.serverError(),
    });
    const budget = new RetryBudget(3);
    await expect(client.json('GET', '/thing/1', { budget })).rejects.toMatchObject({ status: 503 });
    expect(handlerCalls()).toBe(4);
    expect(budget.remaining).toBe(0);
    // The budget is spent: the next request of the same unit gets its first attempt only.
    await expect(client.json('GET', '/thing/1', { budget })).rejects.toMatchObject({ status: 503 });
    expect(handlerCalls()).toBe(5);
    expect(client.stats.retries).toBe(3);
  });
});

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates', () => {
    expect(retryAfterMs(new Headers({ 'retry-after': '2' }))).toBe(2000);
    const now = Date.parse('2024-01-01T00:00:00Z');
    expect(retryAfterMs(new Headers({ 'retry-after': 'Mon, 01 Jan 2024 00:00:05 GMT' }), now)).toBe(5000);
    expect(retryAfterMs(new Headers({}))).toBeUndefined();
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }))).toBeUndefined();
  });
});

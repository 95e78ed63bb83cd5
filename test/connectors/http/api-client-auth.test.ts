// The shared ApiClient's 401 handling, the same for every vendor: a refresh-and-resend after a 401
// does not draw on the transient retry budget, concurrent requests rejected with the same old token
// share one refresh, a 401 right after a refresh (or with no refresh hook) is a terminal auth error
// naming tenant and system, and after one the client's later requests fail at once with it.
import { afterEach, describe, expect, it } from 'vitest';
import {
  ApiClient,
  ApiError,
  type Classification,
  type ClientLimits,
  type VendorPolicy,
} from '../../../pipeline/connectors/http/api-client.js';
import { type SandboxResponse, SandboxServer } from '../../../pipeline/connectors/http/sandbox-server.js';
import { createLogger } from '../../../pipeline/log/logger.js';

const logger = createLogger({ level: 'silent' });

const vendorFaults = {
  rateLimited: (): SandboxResponse => ({ status: 429, body: [{ message: 'slow down', errorCode: 'RATE' }] }),
  dailyLimited: (): SandboxResponse => ({ status: 403, body: [{ message: 'daily', errorCode: 'DAILY' }] }),
  serverError: (): SandboxResponse => ({ status: 503, body: [{ message: 'down', errorCode: 'DOWN' }] }),
  unauthorized: (): SandboxResponse => ({
    status: 401,
    body: [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }],
  }),
};

/** Bearer auth whose refresh takes `refreshMs` and hands out `next()`. */
class Policy implements VendorPolicy {
  readonly vendor = 'test';
  refreshes = 0;
  refreshAuth?: () => Promise<void>;
  constructor(
    public token: string,
    next?: () => string,
    refreshMs = 0,
  ) {
    if (next)
      this.refreshAuth = async () => {
        this.refreshes++;
        await new Promise((r) => setTimeout(r, refreshMs));
        this.token = next();
      };
  }
  authHeaders() {
    return { authorization: `Bearer ${this.token}` };
  }
  classify(status: number, _headers: Headers, body: string): Classification {
    if (status === 401) return { kind: 'auth', reason: body };
    if (status === 429 || status >= 500) return { kind: 'transient', reason: body };
    return { kind: 'terminal', reason: body };
  }
}

const servers: SandboxServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup(policy: Policy, tokens: string[], limits: Partial<ClientLimits> = {}) {
  const server = new SandboxServer({ vendor: vendorFaults, tokens });
  server.route('GET', '/thing/:id', (_req, p) => ({ status: 200, body: { id: p.id } }));
  servers.push(server);
  const client = new ApiClient({
    baseUrl: await server.listen(),
    policy,
    tenant: 'acme',
    system: 'crm',
    logger,
    limits: {
      requestsPerSecond: 1000,
      concurrency: 4,
      maxRetries: 2,
      timeoutMs: 2000,
      minBackoffMs: 1,
      maxBackoffMs: 5,
      ...limits,
    },
  });
  return { server, client };
}

describe('ApiClient 401 handling', () => {
  it('a refresh-and-resend does not use up the transient retries', async () => {
    const policy = new Policy('first', () => server.issueToken());
    const { server, client } = await setup(policy, ['first']);
    // Both transient retries spent, then the token expires: the refresh still gets its resend.
    server.respondNext('serverError', 'serverError');
    server.expireToken();
    expect(await client.json('GET', '/thing/1')).toEqual({ id: '1' });
    // A 401 first, then both transient retries: the refresh left the budget whole.
    server.respondNext('unauthorized', 'serverError', 'serverError');
    expect(await client.json('GET', '/thing/2')).toEqual({ id: '2' });
    expect(policy.refreshes).toBe(2);
    expect(client.stats.retries).toBe(4);
  });

  it('refreshes and resends with maxRetries 0', async () => {
    const policy = new Policy('stale', () => 'fresh');
    const { client } = await setup(policy, ['fresh'], { maxRetries: 0 });
    expect(await client.json('GET', '/thing/1')).toEqual({ id: '1' });
    expect(policy.refreshes).toBe(1);
  });

  it('concurrent requests rejected with the same old token share one refresh', async () => {
    const policy = new Policy('stale', () => 'fresh', 30);
    const { server, client } = await setup(policy, ['fresh'], { concurrency: 8 });
    const got = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => client.json('GET', `/thing/${i}`)));
    expect(got).toHaveLength(6);
    expect(policy.refreshes).toBe(1);
    expect(server.counters.requests).toBe(12);
  });

  it('a 401 right after a refresh is terminal, names tenant and system, and fails later requests at once', async () => {
    const policy = new Policy('stale', () => 'also-stale');
    const { server, client } = await setup(policy, ['valid']);
    const err = await client.json('GET', '/thing/1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ kind: 'terminal', status: 401, code: 'AUTH' });
    const message = (err as Error).message;
    expect(message).toMatch(/tenant acme/);
    expect(message).toMatch(/system crm/);
    expect(message).toMatch(/401 again right after a token refresh/);
    expect(message).toMatch(/fresh token was rejected too/);
    expect(message).toMatch(/INVALID_SESSION_ID/);
    expect(policy.refreshes).toBe(1);
    expect(server.counters.requests).toBe(2);
    // No refresh storm: the next requests fail with the same error, without a request.
    const again = await Promise.all(
      [2, 3].map((i) => client.json('GET', `/thing/${i}`).catch((e: unknown) => e)),
    );
    expect(again).toEqual([err, err]);
    expect(again[0]).toBe(err);
    expect(policy.refreshes).toBe(1);
    expect(server.counters.requests).toBe(2);
  });

  it('a 401 with no refresh hook is terminal and names tenant and system', async () => {
    const policy = new Policy('stale');
    const { server, client } = await setup(policy, ['valid']);
    const err = await client.json('GET', '/thing/1').catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ApiError', kind: 'terminal', status: 401, code: 'AUTH' });
    expect((err as Error).message).toMatch(/tenant acme, system crm: .*no token refresh is configured/);
    await expect(client.json('GET', '/thing/2')).rejects.toBe(err);
    expect(server.counters.requests).toBe(1);
  });

  it('a failing refresh is a terminal auth error naming tenant and system', async () => {
    const policy = new Policy('stale', () => {
      throw new Error('invalid_grant: refresh token revoked');
    });
    const { client } = await setup(policy, ['valid']);
    const err = await client.json('GET', '/thing/1').catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'terminal', status: 401, code: 'AUTH' });
    expect((err as Error).message).toMatch(/tenant acme, system crm: .*token refresh failed: invalid_grant/);
    await expect(client.json('GET', '/thing/2')).rejects.toBe(err);
    expect(policy.refreshes).toBe(1);
  });

  it('a refresh that hangs fails after the request timeout, as a terminal auth error', async () => {
    const policy = new Policy('stale');
    policy.refreshAuth = () => new Promise<void>(() => {});
    const { client } = await setup(policy, ['valid'], { timeoutMs: 200 });
    const err = await client.json('GET', '/thing/1').catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'terminal', status: 401, code: 'AUTH' });
    expect((err as Error).message).toMatch(
      /tenant acme, system crm: .*token refresh failed: it did not finish within 200 ms/,
    );
  });
});

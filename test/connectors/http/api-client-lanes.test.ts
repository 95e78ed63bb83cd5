// The ApiClient's request lanes (HubSpot search, WIRE.md): requests a vendor limits on their own go
// through the lane's limiter on top of the general one; other requests are not held by it, and
// `limits.lanes` overrides the lane's rate.
import { afterEach, describe, expect, it } from 'vitest';
import {
  ApiClient,
  type ClientLimits,
  type VendorPolicy,
} from '../../../pipeline/connectors/http/api-client.js';
import { SandboxServer } from '../../../pipeline/connectors/http/sandbox-server.js';
import { createLogger } from '../../../pipeline/log/logger.js';

const fault = () => ({ status: 500, body: {} });
const policy: VendorPolicy = {
  vendor: 'test',
  authHeaders: () => ({}),
  classify: () => ({ kind: 'terminal', reason: 'x' }),
  laneOf: ({ path }) => (path.endsWith('/search') ? { name: 'search', requestsPerSecond: 4 } : undefined),
};

const servers: SandboxServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function client(limits: Partial<ClientLimits> = {}) {
  const server = new SandboxServer({
    vendor: { rateLimited: fault, dailyLimited: fault, serverError: fault, unauthorized: fault },
  });
  const arrivals: Record<string, number[]> = { search: [], other: [] };
  server.route('POST', '/search', () => {
    arrivals.search!.push(Date.now());
    return { status: 200, body: {} };
  });
  server.route('GET', '/other', () => {
    arrivals.other!.push(Date.now());
    return { status: 200, body: {} };
  });
  servers.push(server);
  const api = new ApiClient({
    baseUrl: await server.listen(),
    policy,
    tenant: 'acme',
    system: 'crm',
    logger: createLogger({ level: 'silent' }),
    limits: { requestsPerSecond: 1000, concurrency: 8, maxRetries: 0, timeoutMs: 5000, ...limits },
  });
  return { api, arrivals };
}

describe('ApiClient request lanes', () => {
  it('holds lane requests to the lane rate, and only them', async () => {
    const { api, arrivals } = await client();
    await Promise.all([
      ...Array.from({ length: 5 }, () => api.json('POST', '/search', { body: {} })),
      ...Array.from({ length: 5 }, () => api.json('GET', '/other')),
    ]);
    const search = arrivals.search!;
    // Four per second: the fifth search leaves a second after the first (arrivals jitter a little).
    expect(search.at(-1)! - search[0]!).toBeGreaterThanOrEqual(750);
    // The other requests did not queue behind the lane.
    expect(Math.max(...arrivals.other!)).toBeLessThan(search[2]!);
    await api.close();
  });

  it('limits.lanes overrides the lane rate', async () => {
    const { api, arrivals } = await client({ lanes: { search: { requestsPerSecond: 1000 } } });
    await Promise.all(Array.from({ length: 5 }, () => api.json('POST', '/search', { body: {} })));
    expect(arrivals.search!.at(-1)! - arrivals.search![0]!).toBeLessThan(500);
    await api.close();
  });
});

import { describe, expect, it } from 'vitest';
import type { HubspotObjectType } from '../../../pipeline/connectors/hubspot/config.js';
import { HubspotSandbox } from '../../../pipeline/connectors/hubspot/hubspot-sandbox.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { listCheckpoints } from '../../../staging/checkpoints.js';
import { useTestDatabase } from '../../support/database.js';
import {
  FAST_BACKOFF,
  hubspotConfig,
  quietLogger,
  sandboxSnapshot,
  stagingSnapshot,
} from '../../support/hubspot.js';

const TYPES: HubspotObjectType[] = ['companies', 'products', 'deals', 'invoices'];
const t = useTestDatabase('hubspot_faults');
const logger = quietLogger();

describe('HubSpot under faults', () => {
  it('completes through a 30 % storm of 429s, 5xx and dropped connections, with bounded retries', async () => {
    const sb = new HubspotSandbox({
      seed: 5,
      counts: { companies: 300, products: 50, deals: 150, invoices: 100 },
      tokens: ['test-token'],
      faults: { rateLimitRate: 0.12, serverErrorRate: 0.1, dropRate: 0.08, seed: 17 },
    });
    const url = await sb.listen();
    try {
      const deps = { staging: t.staging, logger };
      const config = hubspotConfig(url, {
        stageBatchRows: 100,
        limits: { requestsPerSecond: 10_000, concurrency: 4, maxRetries: 10, timeoutMs: 5000 },
      });
      const full = await syncSystem(deps, 'storm', 'hubspot', config, { limits: FAST_BACKOFF });
      expect(full.status).toBe('completed');
      expect(full.throttled).toBeGreaterThan(0);
      expect(full.retries).toBeGreaterThan(0);
      // Bounded: every retry is one of the requests, and no request retried past the cap.
      expect(full.retries).toBeLessThan(full.requests);
      expect(sb.server.counters.faulted).toBeGreaterThan(5);
      const later = Date.now() + 1000;
      sb.update('deals', sb.live('deals')[0]!.id, { amount: '1.00' }, later);
      sb.archive('products', sb.live('products')[0]!.id, later);
      const inc = await syncSystem(deps, 'storm', 'hubspot', config, { limits: FAST_BACKOFF });
      expect(inc.status).toBe('completed');
      expect(await stagingSnapshot(t, 'storm', TYPES)).toEqual(sandboxSnapshot(sb, TYPES));
    } finally {
      await sb.close();
    }
  });

  it('a daily limit pauses that tenant with a status while another tenant completes', async () => {
    const limited = new HubspotSandbox({
      seed: 1,
      counts: { companies: 500, products: 0, deals: 0, invoices: 0 },
      faults: { dailyLimit: 3 },
    });
    const healthy = new HubspotSandbox({
      seed: 2,
      counts: { companies: 300, products: 20, deals: 0, invoices: 0 },
    });
    const [u1, u2] = await Promise.all([limited.listen(), healthy.listen()]);
    try {
      const deps = { staging: t.staging, logger };
      const [a, b] = await Promise.all([
        syncSystem(deps, 'limited', 'hubspot', hubspotConfig(u1, { stageBatchRows: 100 }), {
          limits: FAST_BACKOFF,
        }),
        syncSystem(deps, 'healthy', 'hubspot', hubspotConfig(u2, { stageBatchRows: 100 }), {
          limits: FAST_BACKOFF,
        }),
      ]);
      expect(a.status).toBe('paused');
      expect(a.error).toMatch(/daily limit/);
      expect(a.resumeAt).toBeDefined();
      expect(b.status).toBe('completed');
      expect(await stagingSnapshot(t, 'healthy', ['companies', 'products'])).toEqual(
        sandboxSnapshot(healthy, ['companies', 'products']),
      );
      const cps = await listCheckpoints(t.staging.db, 'limited');
      const companies = cps.find((c) => c.stream === 'companies')!;
      expect(companies.state).toBe('paused');
      expect(companies.detail).toMatch(/daily API limit reached/);
      // Staged what it had before the limit: 3 pages, with their checkpoint.
      expect((companies.position as { phase: string; after: string }).phase).toBe('full');

      // Next window: the limit has reset; the tenant resumes from its checkpoint and completes.
      limited.server.setFaults({});
      const resumed = await syncSystem(
        deps,
        'limited',
        'hubspot',
        hubspotConfig(u1, { stageBatchRows: 100 }),
        {
          limits: FAST_BACKOFF,
        },
      );
      expect(resumed.status).toBe('completed');
      expect(resumed.streams[0]!.received).toBe(200);
      expect(await stagingSnapshot(t, 'limited', ['companies'])).toEqual(
        sandboxSnapshot(limited, ['companies']),
      );
      expect((await listCheckpoints(t.staging.db, 'limited')).every((c) => c.state === 'ok')).toBe(true);
    } finally {
      await Promise.all([limited.close(), healthy.close()]);
    }
  });

  it('a 401 without a refresh hook fails the stream clearly; with one it retries once', async () => {
    const sb = new HubspotSandbox({
      seed: 1,
      counts: { companies: 5, products: 0, deals: 0, invoices: 0 },
      tokens: ['fresh'],
    });
    const url = await sb.listen();
    try {
      const deps = { staging: t.staging, logger };
      const config = hubspotConfig(url, { objects: ['companies'], accessToken: 'stale' });
      const failed = await syncSystem(deps, 'auth', 'hubspot', config, { limits: FAST_BACKOFF });
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatch(/401.*Authentication credentials not found/);
      let refreshed = 0;
      const ok = await syncSystem(deps, 'auth', 'hubspot', config, {
        limits: FAST_BACKOFF,
        refreshAuth: async () => {
          refreshed++;
          return 'fresh';
        },
      });
      expect(refreshed).toBe(1);
      expect(ok.status).toBe('completed');
      expect(await stagingSnapshot(t, 'auth', ['companies'])).toEqual(sandboxSnapshot(sb, ['companies']));
    } finally {
      await sb.close();
    }
  });
});

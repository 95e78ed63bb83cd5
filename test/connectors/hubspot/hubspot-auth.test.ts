// A 401 from HubSpot (an OAuth access token expiring during a long run) is refreshed and retried
// once without drawing on the transient retry budget; a 401 right after a refresh is terminal.
import { describe, expect, it } from 'vitest';
import { HubspotSandbox } from '../../../pipeline/connectors/hubspot/hubspot-sandbox.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { useTestDatabase } from '../../support/database.js';
import {
  FAST_BACKOFF,
  hubspotConfig,
  quietLogger,
  sandboxSnapshot,
  stagingSnapshot,
} from '../../support/hubspot.js';

const t = useTestDatabase('hubspot_auth');
const logger = quietLogger();

const LIST = 'GET /crm/v3/objects/companies';
// Two transient retries per request: the budget the tests below spend exactly.
const LIMITS = { ...FAST_BACKOFF, maxRetries: 2 };

async function withSandbox<T>(sb: HubspotSandbox, fn: (url: string) => Promise<T>): Promise<T> {
  const url = await sb.listen();
  try {
    return await fn(url);
  } finally {
    await sb.close();
  }
}

const companiesOnly = { companies: 30, products: 0, deals: 0, invoices: 0 };

describe('HubSpot 401 and token refresh', () => {
  it('a token expiring mid-run among transient errors is refreshed without using up the retry budget', async () => {
    const sb = new HubspotSandbox({ seed: 41, counts: companiesOnly, tokens: ['first'] });
    await withSandbox(sb, async (url) => {
      const config = hubspotConfig(url, {
        objects: ['companies'],
        accessToken: 'first',
        listPageSize: 10,
        stageBatchRows: 10,
      });
      let units = 0;
      let refreshed = 0;
      const report = await syncSystem({ staging: t.staging, logger }, 'expiry', 'hubspot', config, {
        limits: LIMITS,
        refreshAuth: async () => {
          refreshed++;
          return sb.server.issueToken();
        },
        onUnitStaged: ({ stream }) => {
          if (stream !== 'companies') return;
          units++;
          // Page 2: two 502s (the whole budget), then the token expires → one refresh, one retry.
          if (units === 1) {
            sb.server.respondNext('serverError', 'serverError');
            sb.server.expireToken();
          }
          // Page 3: a 401 first, then two 502s: the refresh-retry left the budget whole.
          if (units === 2) sb.server.respondNext('unauthorized', 'serverError', 'serverError');
        },
      });
      expect(report.status, report.error).toBe('completed');
      expect(refreshed).toBe(2);
      expect(await stagingSnapshot(t, 'expiry', ['companies'])).toEqual(sandboxSnapshot(sb, ['companies']));
    });
  });

  it('the refresh does not reset the transient budget: 502s after it still stop at the cap', async () => {
    const sb = new HubspotSandbox({ seed: 42, counts: companiesOnly, tokens: ['first'] });
    await withSandbox(sb, async (url) => {
      const config = hubspotConfig(url, { objects: ['companies'], accessToken: 'first' });
      sb.server.respondNext('serverError', 'serverError', 'unauthorized', 'serverError');
      const report = await syncSystem({ staging: t.staging, logger }, 'capped', 'hubspot', config, {
        limits: LIMITS,
        refreshAuth: async () => 'first',
      });
      expect(report.status).toBe('failed');
      expect(report.error).toMatch(/502/);
      // 502, 502 (both retries), 401, refresh, one more attempt: 502 with no retry left. Then the
      // archived stream lists the same path once.
      expect(sb.server.requestsByPath.get(LIST)).toBe(5);
      expect(report.streams.map((s) => s.status)).toEqual(['failed', 'completed']);
    });
  });

  it('a 401 right after a refresh is a terminal auth error naming tenant and system, never a loop', async () => {
    const sb = new HubspotSandbox({ seed: 43, counts: companiesOnly, tokens: ['valid'] });
    await withSandbox(sb, async (url) => {
      const config = hubspotConfig(url, { objects: ['companies'], accessToken: 'stale' });
      let refreshed = 0;
      const report = await syncSystem({ staging: t.staging, logger }, 'locked', 'crm', config, {
        limits: LIMITS,
        refreshAuth: async () => {
          refreshed++;
          return 'also-stale';
        },
      });
      expect(report.status).toBe('failed');
      expect(refreshed).toBe(1);
      expect(sb.server.requestsByPath.get(LIST)).toBe(2);
      expect(report.error).toMatch(/tenant locked/);
      expect(report.error).toMatch(/system crm/);
      expect(report.error).toMatch(/401 again right after a token refresh/);
      expect(report.error).toMatch(/Authentication credentials not found/);
    });
  });
});

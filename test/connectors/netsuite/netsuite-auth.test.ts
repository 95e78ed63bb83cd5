// A 401 INVALID_LOGIN from NetSuite (an OAuth 2.0 access token expiring during a long run) is
// refreshed and the request sent again without drawing on the transient retry budget; a 401 right
// after a refresh, or with no refresh configured, is a terminal auth error naming tenant and system.
import { describe, expect, it } from 'vitest';
import { NetsuiteSandbox } from '../../../pipeline/connectors/netsuite/netsuite-sandbox.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import { useTestDatabase } from '../../support/database.js';
import { FAST_BACKOFF, netsuiteConfig, sandboxSnapshot, stagingSnapshot } from '../../support/netsuite.js';

const t = useTestDatabase('netsuite_auth');
const logger = createLogger({ level: 'silent' });

const deps = () => ({ staging: t.staging, logger });
const SUITEQL = 'POST /services/rest/query/v1/suiteql';
// Two transient retries per request: the budget the tests below spend exactly.
const LIMITS = { ...FAST_BACKOFF, maxRetries: 2 };
const customersOnly = { customer: 30, item: 0, salesorder: 0, invoice: 0, payment: 0 };

async function withSandbox<T>(sb: NetsuiteSandbox, fn: (url: string) => Promise<T>): Promise<T> {
  const url = await sb.listen();
  try {
    return await fn(url);
  } finally {
    await sb.close();
  }
}

describe('NetSuite 401 and token refresh', () => {
  it('a token expiring mid-run among transient errors is refreshed and the run completes', async () => {
    const sb = new NetsuiteSandbox({ seed: 51, counts: customersOnly, tokens: ['first'] });
    await withSandbox(sb, async (url) => {
      const config = netsuiteConfig(url, {
        accessToken: 'first',
        streams: ['customer'],
        deletes: false,
        pageSize: 10,
        stageBatchRows: 10,
      });
      let units = 0;
      let refreshed = 0;
      const report = await syncSystem(deps(), 'expiry', 'netsuite', config, {
        limits: LIMITS,
        refreshAuth: async () => {
          refreshed++;
          return sb.server.issueToken();
        },
        onUnitStaged: () => {
          units++;
          // Page 2: two 500s (the whole budget), then the token expires → one refresh, one resend.
          if (units === 1) {
            sb.server.respondNext('serverError', 'serverError');
            sb.server.expireToken();
          }
          // Page 3: a 401 first, then two 500s: the refresh-and-resend left the budget whole.
          if (units === 2) sb.server.respondNext('unauthorized', 'serverError', 'serverError');
        },
      });
      expect(report.status, report.error).toBe('completed');
      expect(refreshed).toBe(2);
      expect((await stagingSnapshot(t, 'expiry')).customer).toEqual(sandboxSnapshot(sb).customer);
    });
  });

  it('a 401 right after a refresh is a terminal auth error naming tenant and system, never a loop', async () => {
    const sb = new NetsuiteSandbox({ seed: 52, counts: customersOnly, tokens: ['valid'] });
    await withSandbox(sb, async (url) => {
      const config = netsuiteConfig(url, { accessToken: 'stale', streams: ['customer', 'item'] });
      let refreshed = 0;
      const report = await syncSystem(deps(), 'locked', 'erp1', config, {
        limits: LIMITS,
        refreshAuth: async () => {
          refreshed++;
          return 'also-stale';
        },
      });
      expect(report.status).toBe('failed');
      expect(refreshed).toBe(1);
      // The first query and its one resend; the other streams fail at once, without a request.
      expect(sb.server.requestsByPath.get(SUITEQL)).toBe(2);
      expect(report.streams.map((r) => r.status)).toEqual(['failed', 'failed', 'failed']);
      expect(report.error).toMatch(/tenant locked/);
      expect(report.error).toMatch(/system erp1/);
      expect(report.error).toMatch(/401 again right after a token refresh/);
      expect(report.error).toMatch(/fresh token was rejected too/);
      expect(report.error).toMatch(/INVALID_LOGIN: Invalid login attempt/);
    });
  });

  it('a 401 with no refresh configured is a terminal auth error naming tenant and system', async () => {
    const sb = new NetsuiteSandbox({ seed: 53, counts: customersOnly, tokens: ['valid'] });
    await withSandbox(sb, async (url) => {
      const config = netsuiteConfig(url, { accessToken: 'stale', streams: ['customer'], deletes: false });
      const report = await syncSystem(deps(), 'norefresh', 'erp1', config, { limits: LIMITS });
      expect(report.status).toBe('failed');
      expect(sb.server.requestsByPath.get(SUITEQL)).toBe(1);
      expect(report.error).toMatch(/tenant norefresh, system erp1: .*INVALID_LOGIN/);
      expect(report.error).toMatch(/no token refresh is configured/);
    });
  });
});

// A 401 INVALID_SESSION_ID from Salesforce (an access token expiring during a long Bulk run) is
// refreshed and the request sent again without drawing on the transient retry budget; a 401 right
// after a refresh, or with no refresh configured, is a terminal auth error naming tenant and system.
import { afterAll, describe, expect, it } from 'vitest';
import type { SyncOptions } from '../../../pipeline/connectors/contract.js';
import type { SalesforceSandbox } from '../../../pipeline/connectors/salesforce/sandbox.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { useTestDatabase } from '../../support/database.js';
import {
  expectEqual,
  FAST_BULK,
  FAST_LIMITS,
  quietLogger,
  startSandbox,
  systemConfig,
} from '../../support/salesforce.js';

const t = useTestDatabase('sf_auth');
const sandboxes: SalesforceSandbox[] = [];
afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.close()));
});

async function sandbox(opts: Parameters<typeof startSandbox>[0]) {
  const s = await startSandbox(opts);
  sandboxes.push(s);
  return s;
}

// Two transient retries per request (and per result chunk): the budget the tests spend exactly.
const LIMITS = { ...FAST_LIMITS, maxRetries: 2 };
const deps = () => ({ staging: t.staging, logger: quietLogger });
const sync = (
  s: SalesforceSandbox,
  tenant: string,
  system: string,
  accessToken: string,
  opts: SyncOptions = {},
) =>
  syncSystem(
    deps(),
    tenant,
    system,
    systemConfig(s, { accessToken, bulk: { ...FAST_BULK, maxRecords: 50, batchSize: 50 } }),
    { limits: LIMITS, streams: ['Account', 'Product2'], ...opts },
  );

describe('Salesforce 401 and token refresh', () => {
  it('a token expiring mid-run among transient errors is refreshed and the run completes', async () => {
    const s = await sandbox({ seed: 21, accounts: 120, tokens: ['first'] });
    let refreshed = 0;
    // The first result chunk of each stream's job, seen by the sandbox as it arrives (no race with
    // the commits the extractor runs alongside its reads).
    const jobs: string[] = [];
    s.server.onRequest = (key) => {
      const job = /^GET .*\/jobs\/query\/(\w+)\/results$/.exec(key)?.[1];
      if (!job || jobs.includes(job)) return;
      jobs.push(job);
      // Account's first chunk: two 503s (the chunk's whole budget), then the token expires →
      // one refresh, one resend.
      if (jobs.length === 1) {
        s.server.respondNext('serverError', 'serverError');
        s.server.expireToken();
      }
      // Product2's first chunk: a 401 first, then two 503s: the refresh-and-resend left the
      // budget whole.
      if (jobs.length === 2) s.server.respondNext('unauthorized', 'serverError', 'serverError');
    };
    const report = await sync(s, 'expiry', 'crm', 'first', {
      refreshAuth: async () => {
        refreshed++;
        return s.server.issueToken();
      },
    });
    expect(report.status, report.error).toBe('completed');
    expect(refreshed).toBe(2);
    expect(
      await expectEqual(t.staging, s, 'expiry', [
        ['Account', 'customer'],
        ['Product2', 'product'],
      ]),
    ).toEqual([]);
  });

  it('a 401 right after a refresh is a terminal auth error naming tenant and system, never a loop', async () => {
    const s = await sandbox({ seed: 22, accounts: 20, tokens: ['valid'] });
    let refreshed = 0;
    const report = await sync(s, 'locked', 'sfcrm', 'stale', {
      refreshAuth: async () => {
        refreshed++;
        return 'also-stale';
      },
    });
    expect(report.status).toBe('failed');
    expect(refreshed).toBe(1);
    // The first request (/limits) and its one resend; every stream then fails at once.
    expect(s.server.counters.requests).toBe(2);
    expect(report.streams.map((r) => r.status)).toEqual(['failed', 'failed']);
    expect(report.error).toMatch(/tenant locked/);
    expect(report.error).toMatch(/system sfcrm/);
    expect(report.error).toMatch(/401 again right after a token refresh/);
    expect(report.error).toMatch(/fresh token was rejected too/);
    expect(report.error).toMatch(/INVALID_SESSION_ID: Session expired or invalid/);
  });

  it('a 401 with no refresh configured is a terminal auth error naming tenant and system', async () => {
    const s = await sandbox({ seed: 23, accounts: 20, tokens: ['valid'] });
    const report = await sync(s, 'norefresh', 'sfcrm', 'stale');
    expect(report.status).toBe('failed');
    expect(s.server.counters.requests).toBe(1);
    expect(report.error).toMatch(/tenant norefresh, system sfcrm: .*INVALID_SESSION_ID/);
    expect(report.error).toMatch(/no token refresh is configured/);
  });
});

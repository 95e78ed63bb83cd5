// Salesforce answers that are not what the window walk depends on: a result chunk without its
// Sforce-Locator header (taken for the last chunk, it would move `since` past unread chunks), a
// job answer without an id or state (an HTML page), a body that is not UTF-8. Each is re-read and,
// if it stays bad, fails the stream with a message naming tenant and system; `since` stays.
import { afterAll, describe, expect, it } from 'vitest';
import type { SalesforceSandbox } from '../../../pipeline/connectors/salesforce/sandbox.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { loadCheckpoint } from '../../../staging/checkpoints.js';
import { listDeadLetters } from '../../../staging/control/dead-letters.js';
import { useTestDatabase } from '../../support/database.js';
import {
  expectEqual,
  FAST_BULK,
  FAST_LIMITS,
  quietLogger,
  startSandbox,
  systemConfig,
} from '../../support/salesforce.js';

const t = useTestDatabase('sf_bad_pages');
const sandboxes: SalesforceSandbox[] = [];
afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.close()));
});

async function sandbox(seed: number) {
  const s = await startSandbox({ seed, accounts: 120 });
  sandboxes.push(s);
  return s;
}

const sync = (s: SalesforceSandbox, tenant: string, maxRetries = 2) =>
  syncSystem(
    { staging: t.staging, logger: quietLogger },
    tenant,
    'crm',
    systemConfig(s, { objects: undefined, bulk: { ...FAST_BULK, maxRecords: 50, batchSize: 25 } }),
    { limits: { ...FAST_LIMITS, maxRetries }, streams: ['Account'] },
  );

const account = (tenant: string) =>
  loadCheckpoint(t.staging.pool, { tenant, system: 'crm', stream: 'Account' }) as Promise<{
    since: string | null;
  } | null>;

describe('Salesforce answers that are not pages', () => {
  it('a result chunk without Sforce-Locator fails the stream instead of ending the window', async () => {
    const s = await sandbox(11);
    s.server.tamper = (key, out) => {
      if (!key.endsWith('/results')) return undefined;
      const { 'sforce-locator': _gone, ...headers } = out.headers ?? {};
      return { ...out, headers };
    };
    const report = await sync(s, 'nolocator');
    expect(report.status).toBe('failed');
    expect(report.error).toMatch(
      /tenant nolocator, system crm: bulk results of job \w+ \(locator first\) came without a Sforce-Locator header/,
    );
    expect((await account('nolocator'))?.since).toBeNull();
    s.server.tamper = undefined;
    expect((await sync(s, 'nolocator')).status).toBe('completed');
    expect(await expectEqual(t.staging, s, 'nolocator', [['Account', 'customer']])).toEqual([]);
  });

  it('an HTML 200 for a job and a body that is not UTF-8 are re-read; the load completes', async () => {
    const s = await sandbox(12);
    let jobs = 0;
    let chunks = 0;
    s.server.tamper = (key, out) => {
      if (key.endsWith('/jobs/query') && ++jobs === 1)
        return { status: 200, text: '<html>Maintenance</html>', headers: { 'content-type': 'text/html' } };
      if (key.endsWith('/results') && ++chunks === 2)
        return { ...out, stream: undefined, text: Buffer.from([0x49, 0x64, 0x0a, 0xc3, 0x28, 0x0a]) };
      return undefined;
    };
    const report = await sync(s, 'flaky', 4);
    expect(report.status).toBe('completed');
    expect(jobs).toBeGreaterThan(1);
    expect(chunks).toBeGreaterThan(2);
    expect(await expectEqual(t.staging, s, 'flaky', [['Account', 'customer']])).toEqual([]);
  });

  it('a row whose SystemModstamp is in the future is dead-lettered, the rest of the chunk staged', async () => {
    const s = await sandbox(13);
    const [first] = s.rows('Account');
    const row = s.update('Account', first!.Id!, { Name: 'Soon' });
    // Windows end on a whole second before now: let the update's second pass.
    await new Promise((r) => setTimeout(r, 1100));
    // Between the job's creation and its results: the row now claims a stamp a year ahead.
    s.server.onRequest = (key) => {
      if (key.endsWith('/results'))
        (row as Record<string, string>).SystemModstamp = '2999-01-01T00:00:00.000Z';
    };
    const report = await sync(s, 'future');
    s.server.onRequest = undefined;
    expect(report.status).toBe('completed');
    const dead = await listDeadLetters(t.staging.db, { tenant: 'future', system: 'crm' });
    expect(dead.map((d) => [d.sourceId, d.errorMessage])).toEqual([
      [row.Id, expect.stringMatching(/SystemModstamp 2999-01-01T00:00:00.000Z is in the future/)],
    ]);
    const staged = await t.staging.pool.query(
      `SELECT count(*)::int AS n FROM staging.customer WHERE tenant_id = 'future' AND source_id = $1`,
      [row.Id],
    );
    expect(staged.rows[0].n).toBe(0);
  });
});

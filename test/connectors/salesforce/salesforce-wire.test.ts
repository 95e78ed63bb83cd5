// Salesforce wire fidelity (issue 14, items 7–10, refresh in the writer): the sandbox answers as
// Salesforce does (pipeline/connectors/salesforce/WIRE.md), and the connector reads and writes
// through that.
import { afterAll, describe, expect, it } from 'vitest';
import type { SyncOptions } from '../../../pipeline/connectors/contract.js';
import type { SalesforceSandbox } from '../../../pipeline/connectors/salesforce/sandbox.js';
import { SalesforceWriter } from '../../../pipeline/connectors/salesforce/writer.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { useTestDatabase } from '../../support/database.js';
import { FAST_BULK, FAST_LIMITS, quietLogger, startSandbox, systemConfig } from '../../support/salesforce.js';

const t = useTestDatabase('salesforce_wire');
const sandboxes: SalesforceSandbox[] = [];
afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.close()));
});

async function sandbox(opts: Parameters<typeof startSandbox>[0] = {}) {
  const s = await startSandbox({ accounts: 40, ...opts });
  sandboxes.push(s);
  return s;
}

const DAY = 86_400_000;
const sync = (s: SalesforceSandbox, tenant: string, opts: SyncOptions = {}, extra = {}) =>
  syncSystem(
    { staging: t.staging, logger: quietLogger },
    tenant,
    'crm',
    systemConfig(s, { objects: { Account: 'customer' }, bulk: { ...FAST_BULK, maxRecords: 100 }, ...extra }),
    { limits: FAST_LIMITS, ...opts },
  );

async function api(s: SalesforceSandbox, method: string, path: string, body?: unknown) {
  const res = await fetch(`${s.url}/services/data/v60.0${path}`, {
    method,
    headers: { authorization: 'Bearer sandbox-token', 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as unknown };
}

describe('Salesforce wire fidelity', () => {
  it('item 7: both limits answer 403 REQUEST_LIMIT_EXCEEDED; the concurrent one is retried, the 24-hour one pauses', async () => {
    const s = await sandbox({ seed: 71 });
    s.server.respondNext('rateLimited');
    const concurrent = await api(s, 'GET', '/limits');
    expect(concurrent.status).toBe(403);
    expect(concurrent.body).toEqual([
      {
        errorCode: 'REQUEST_LIMIT_EXCEEDED',
        message: expect.stringMatching(/^ConcurrentPerOrgLongTxn Limit exceeded/),
      },
    ]);
    s.server.respondNext('dailyLimited');
    expect((await api(s, 'GET', '/limits')).body).toEqual([
      {
        errorCode: 'REQUEST_LIMIT_EXCEEDED',
        message: expect.stringMatching(/^TotalRequests Limit exceeded/),
      },
    ]);

    let scripted = false;
    s.server.onRequest = (key) => {
      if (!key.endsWith('/jobs/query') || scripted) return;
      scripted = true;
      s.server.respondNext('rateLimited', 'rateLimited');
    };
    const report = await sync(s, 'sf_concurrent');
    s.server.onRequest = undefined;
    expect(report.status, report.error).toBe('completed');
    expect(report.throttled).toBeGreaterThanOrEqual(2);

    s.server.onRequest = (key) => {
      if (key.endsWith('/jobs/query')) s.server.respondNext('dailyLimited');
    };
    const paused = await sync(s, 'sf_daily');
    s.server.onRequest = undefined;
    expect(paused.status).toBe('paused');
    expect(paused.error).toMatch(/TotalRequests Limit exceeded/);
  });

  it('item 8: a malformed composite upsert is one 400 for the whole call; the key must be an External ID field', async () => {
    const s = await sandbox({ seed: 81 });
    const bogus = await api(s, 'PATCH', '/composite/sobjects/Account/ERP_Id__c', {
      allOrNone: false,
      records: [
        { attributes: { type: 'Account' }, ERP_Id__c: 'B-1', Name: 'Fine' },
        { attributes: { type: 'Account' }, ERP_Id__c: 'B-2', Name: 'B', Bogus__c: 1 },
      ],
    });
    expect(bogus.status).toBe(400);
    expect(bogus.body).toEqual([{ errorCode: 'INVALID_FIELD', message: expect.stringMatching(/Bogus__c/) }]);
    expect([...s.rows('Account')].some((r) => r.ERP_Id__c === 'B-1')).toBe(false);
    const notExternal = await api(s, 'PATCH', '/composite/sobjects/Account/Name', {
      records: [{ attributes: { type: 'Account' }, Name: 'X' }],
    });
    expect(notExternal.status).toBe(400);
    const describe = (await api(s, 'GET', '/sobjects/Account/describe')).body as {
      fields: { name: string; externalId: boolean }[];
    };
    expect(describe.fields.find((f) => f.name === 'ERP_Id__c')?.externalId).toBe(true);
    expect(describe.fields.find((f) => f.name === 'Name')?.externalId).toBe(false);

    const w = SalesforceWriter.open({
      tenant: 'w8',
      system: 'crm',
      systemConfig: systemConfig(s),
      logger: quietLogger,
      limits: FAST_LIMITS,
    });
    try {
      const records = Array.from({ length: 250 }, (_, i) => ({
        externalId: `M-${i}`,
        fields: i === 210 ? { Name: `M ${i}`, Bogus__c: 1 } : { Name: `M ${i}` },
      }));
      const results = await w.upsert('Account', 'ERP_Id__c', records);
      expect(results).toHaveLength(250);
      expect(results.slice(0, 200).every((r) => r.success)).toBe(true);
      // The second call was refused as a whole: each of its records says so, and the writer went on.
      expect(results.slice(200).every((r) => !r.success && r.errors[0]?.statusCode === 'INVALID_FIELD')).toBe(
        true,
      );
    } finally {
      await w.close();
    }

    const patchesBefore =
      s.server.requestsByPath.get('PATCH /services/data/v60.0/composite/sobjects/Account/Name') ?? 0;
    const byName = SalesforceWriter.open({
      tenant: 'w8',
      system: 'crm',
      systemConfig: systemConfig(s, {
        objects: { Account: { entity: 'customer', externalIdField: 'Name' } },
      }),
      logger: quietLogger,
      limits: FAST_LIMITS,
    });
    try {
      await expect(
        byName.upsertCanonical('customer', [{ externalId: 'N-1', fields: { website: 'x' } }]),
      ).rejects.toThrow(/tenant w8, system crm: Account\.Name is not an External ID field/);
      expect(
        s.server.requestsByPath.get('PATCH /services/data/v60.0/composite/sobjects/Account/Name') ?? 0,
      ).toBe(patchesBefore);
    } finally {
      await byName.close();
    }
  });

  it('item 9: deleted rows leave the recycle bin after 15 days; a stream idle longer stops and asks for sync --full', async () => {
    let clock = Date.now();
    const now = () => clock;
    const s = await sandbox({ seed: 91, clock: now });
    expect((await sync(s, 'sf_bin', { now })).status).toBe('completed');
    const gone = [...s.rows('Account')][4]!.Id!;
    s.delete('Account', gone);
    clock += 16 * DAY;
    expect([...s.rows('Account', { includeDeleted: true })].some((r) => r.Id === gone)).toBe(false);

    const idle = await sync(s, 'sf_bin', { now });
    expect(idle.status).toBe('failed');
    expect(idle.streams[0]).toMatchObject({ stream: 'Account', status: 'failed' });
    expect(idle.error).toMatch(/tenant sf_bin, system crm/);
    expect(idle.error).toMatch(/recycle bin/);
    expect(idle.error).toMatch(/trueup sync --tenant sf_bin --system crm --full/);
    const again = await sync(s, 'sf_bin', { now, mode: 'full' });
    expect(again.status, again.error).toBe('completed');
  });

  it('item 10: SOQL datetime literals are whole seconds (YYYY-MM-DDThh:mm:ssZ); fractions are MALFORMED_QUERY', async () => {
    const s = await sandbox({ seed: 101, record: true });
    const fraction = await api(s, 'POST', '/jobs/query', {
      operation: 'queryAll',
      query: 'SELECT Id FROM Account WHERE SystemModstamp >= 2024-01-01T00:00:00.000Z',
      contentType: 'CSV',
    });
    expect(fraction.status).toBe(400);
    expect(fraction.body).toEqual([{ errorCode: 'MALFORMED_QUERY', message: expect.any(String) }]);
    expect((await sync(s, 'sf_soql')).status).toBe('completed');
    s.update('Account', [...s.rows('Account')][1]!.Id!, { Name: 'Later' });
    await new Promise((r) => setTimeout(r, 1100));
    const inc = await sync(s, 'sf_soql');
    expect(inc.status, inc.error).toBe('completed');
    const queries = s.server.exchanges
      .filter((e) => e.method === 'POST' && e.path.endsWith('/jobs/query') && e.status === 200)
      .map((e) => (e.body as { query: string }).query);
    expect(queries.length).toBeGreaterThanOrEqual(2);
    for (const q of queries)
      for (const literal of q.match(/SystemModstamp [<>=]+ (\S+)/g) ?? [])
        expect(literal).toMatch(/ \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  });

  it('the refresh hook reaches the writer: an expired token is refreshed and the upsert goes through', async () => {
    const s = await sandbox({ seed: 111 });
    s.server.expireToken();
    let refreshed = 0;
    const w = SalesforceWriter.open({
      tenant: 'w',
      system: 'crm',
      systemConfig: systemConfig(s),
      logger: quietLogger,
      limits: FAST_LIMITS,
      refreshAuth: async () => {
        refreshed++;
        return s.server.issueToken();
      },
    });
    try {
      const out = await w.upsertCanonical('customer', [{ externalId: 'R-1', fields: { name: 'Fresh' } }]);
      expect(out[0]).toMatchObject({ success: true });
      expect(refreshed).toBe(1);
    } finally {
      await w.close();
    }
  });
});

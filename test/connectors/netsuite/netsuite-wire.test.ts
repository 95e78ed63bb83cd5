// NetSuite wire fidelity (issue 14, items 1–4 and 11, token-based auth, refresh in the writer):
// the sandbox answers as NetSuite does (pipeline/connectors/netsuite/WIRE.md), and the connector
// reads and writes through that.
import { describe, expect, it } from 'vitest';
import { netsuitePolicy } from '../../../pipeline/connectors/netsuite/netsuite-policy.js';
import { NetsuiteSandbox } from '../../../pipeline/connectors/netsuite/netsuite-sandbox.js';
import { createNetsuiteWriter } from '../../../pipeline/connectors/netsuite/netsuite-writer.js';
import { oauth1Header } from '../../../pipeline/connectors/netsuite/oauth1-signer.js';
import { wallText } from '../../../pipeline/connectors/netsuite/sandbox-time-zone.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import { useTestDatabase } from '../../support/database.js';
import { FAST_BACKOFF, netsuiteConfig } from '../../support/netsuite.js';

const t = useTestDatabase('netsuite_wire');
const logger = createLogger({ level: 'silent' });

const deps = () => ({ staging: t.staging, logger });
const customersOnly = { customer: 12, item: 0, salesorder: 0, invoice: 0, payment: 0 };

async function withSandbox<T>(sb: NetsuiteSandbox, fn: (url: string) => Promise<T>): Promise<T> {
  const url = await sb.listen();
  try {
    return await fn(url);
  } finally {
    await sb.close();
  }
}

/** One SuiteQL request as a user would send it (bearer token `ns-token`). */
async function suiteql(url: string, q: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/services/rest/query/v1/suiteql?limit=1000&offset=0`, {
    method: 'POST',
    headers: { authorization: 'Bearer ns-token', prefer: 'transient', 'content-type': 'application/json' },
    body: JSON.stringify({ q }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function put(url: string, path: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}/services/rest/record/v1/${path}`, {
    method: 'PUT',
    headers: { authorization: 'Bearer ns-token', 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const items = (r: { body: Record<string, unknown> }) => r.body.items as Record<string, unknown>[];
const errorDetail = (body: unknown) =>
  (body as { 'o:errorDetails': Record<string, string>[] })['o:errorDetails'][0]!;

async function staged(tenant: string, entity: string, columns: string): Promise<Record<string, unknown>[]> {
  return (
    await t.staging.pool.query(
      `SELECT source_id, deleted_at, version::text AS version, ${columns} FROM staging."${entity}" WHERE tenant_id = $1 ORDER BY source_id::int`,
      [tenant],
    )
  ).rows;
}

describe('NetSuite wire fidelity', () => {
  it('item 1: deletedrecord has type/recordid/deleteddate/name, no recordtype; deletes are staged from it', async () => {
    const sb = new NetsuiteSandbox({ seed: 21, counts: customersOnly, tokens: ['ns-token'] });
    await withSandbox(sb, async (url) => {
      // Unknown columns fail even when the table is empty, as NetSuite checks the query, not rows.
      const before = await suiteql(url, 'SELECT recordtype FROM deletedrecord');
      expect(before.status).toBe(400);
      expect(errorDetail(before.body).detail).toMatch(/recordtype/);
      const config = netsuiteConfig(url, { streams: ['customer'] });
      expect((await syncSystem(deps(), 'ns_del', 'netsuite', config, { limits: FAST_BACKOFF })).status).toBe(
        'completed',
      );
      const gone = [...sb.table('customer').keys()][3]!;
      sb.remove('customer', gone, Date.now() + 2000);
      const row = items(
        await suiteql(
          url,
          `SELECT recordid, type, TO_CHAR(deleteddate, 'YYYY-MM-DD HH24:MI:SS') AS d, name FROM deletedrecord`,
        ),
      )[0]!;
      expect(row).toMatchObject({ recordid: String(gone), type: 'customer' });
      const inc = await syncSystem(deps(), 'ns_del', 'netsuite', config, { limits: FAST_BACKOFF });
      expect(inc.status, inc.error).toBe('completed');
      expect(inc.streams.find((s) => s.stream === 'deletedrecord')).toMatchObject({
        status: 'completed',
        deleted: 1,
      });
      const tomb = (await staged('ns_del', 'customer', 'name')).find((r) => r.source_id === String(gone))!;
      expect(tomb.deleted_at).not.toBeNull();
    });
  });

  it('item 2: writes send REST field ids in camelCase and references as {"id"}; column names are a 400', async () => {
    const sb = new NetsuiteSandbox({ seed: 22, counts: customersOnly, tokens: ['ns-token'], record: true });
    const target = [...sb.table('customer').values()].find((r) => r.externalid)!;
    await withSandbox(sb, async (url) => {
      const lower = await put(url, `customer/eid:${target.externalid}`, { companyname: 'x' });
      expect(lower.status).toBe(400);
      expect(errorDetail(lower.body)).toMatchObject({
        'o:errorCode': 'INVALID_CONTENT',
        'o:errorPath': 'companyname',
      });
      const scalar = await put(url, `customer/eid:${target.externalid}`, { currency: 'EUR' });
      expect(scalar.status).toBe(400);
      expect(errorDetail(scalar.body)['o:errorPath']).toBe('currency');
      expect((await put(url, 'salesorder/eid:x', {})).status).toBe(404);

      const writer = createNetsuiteWriter({ logger }, 'acme', 'netsuite', netsuiteConfig(url), {
        limits: FAST_BACKOFF,
      });
      try {
        const out = await writer.upsert('customer', [
          {
            externalId: target.externalid as string,
            fields: { name: 'Updated AG', credit_limit: '2500.00', currency: 'EUR', payment_terms: 'Net 60' },
          },
          { externalId: 'hs-new-1', fields: { name: 'Created AG', currency: 'USD' } },
          { externalId: 'hs-bad', fields: { credit_limit: 'plenty' } },
        ]);
        expect(out.written.map((w) => w.externalId).sort()).toEqual([target.externalid, 'hs-new-1'].sort());
        // A value that is no number is not sent; a reference NetSuite does not know is its 400.
        expect(out.failed).toEqual([
          { externalId: 'hs-bad', message: expect.stringMatching(/creditLimit/), code: 'INVALID_VALUE' },
        ]);
        const unknown = await writer.upsert('order', [
          { externalId: 'so-x', fields: { number: 'SO-X', customer_ref: '999999' } },
        ]);
        expect(unknown.failed).toEqual([
          {
            externalId: 'so-x',
            message: expect.stringMatching(/Invalid Field Value 999999 .*entity/),
            code: 'INVALID_CONTENT',
          },
        ]);
      } finally {
        await writer.close();
      }
      const sent = sb.server.exchanges
        .filter((e) => e.method === 'PUT' && e.path.endsWith(`eid:${target.externalid}`))
        .at(-1)!;
      expect(sent.body).toEqual({
        companyName: 'Updated AG',
        creditLimit: 2500,
        currency: { id: String(sb.lists.currencyId('EUR')) },
        terms: { id: String(sb.lists.termId('Net 60')) },
      });
      expect(target).toMatchObject({
        companyname: 'Updated AG',
        creditlimit: 2500,
        currency: 'EUR',
        terms: 'Net 60',
      });
    });
  });

  it('item 3: currency and terms come as internal ids; the connector stages the ISO code and the term name', async () => {
    const sb = new NetsuiteSandbox({
      seed: 23,
      counts: { customer: 15, item: 0, salesorder: 0, invoice: 8, payment: 0 },
      tokens: ['ns-token'],
    });
    await withSandbox(sb, async (url) => {
      const first = [...sb.table('customer').values()][0]!;
      const row = items(
        await suiteql(
          url,
          `SELECT currency, terms, BUILTIN.DF(currency) AS cname, BUILTIN.DF(terms) AS tname FROM customer WHERE id = ${first.id}`,
        ),
      )[0]!;
      expect(row.currency).toBe(String(sb.lists.currencyId(first.currency as string)));
      expect(row.cname).not.toBe(first.currency); // a currency's display name is not its ISO code
      expect(row.tname).toBe(first.terms);
      const report = await syncSystem(
        deps(),
        'ns_cur',
        'netsuite',
        netsuiteConfig(url, { streams: ['customer', 'invoice'] }),
        {
          limits: FAST_BACKOFF,
        },
      );
      expect(report.status, report.error).toBe('completed');
      const customers = await staged('ns_cur', 'customer', 'currency, payment_terms');
      expect(customers).toHaveLength(15);
      for (const c of customers) {
        const src = sb.table('customer').get(Number(c.source_id))!;
        expect(c).toMatchObject({ currency: src.currency, payment_terms: src.terms });
      }
      const invoices = await staged('ns_cur', 'invoice', 'currency');
      for (const i of invoices)
        expect(i.currency).toBe(sb.table('transaction').get(Number(i.source_id))!.currency);
    });
  });

  it('item 4: values are strings, and a user in America/New_York loses no hour of changes', async () => {
    const t0 = Date.now();
    const sb = new NetsuiteSandbox({
      seed: 24,
      counts: customersOnly,
      tokens: ['ns-token'],
      timeZone: 'America/New_York',
      baseTime: t0 - 3_600_000,
    });
    await withSandbox(sb, async (url) => {
      const wire = items(
        await suiteql(
          url,
          "SELECT id, creditlimit, TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS m FROM customer",
        ),
      );
      for (const r of wire)
        for (const v of Object.values(r)) if (!Array.isArray(v)) expect(typeof v).toBe('string');
      const first = [...sb.table('customer').values()][0]!;
      const m = wire.find((r) => r.id === String(first.id))!.m as string;
      // Four or five hours behind UTC: the user's wall clock, not UTC.
      expect(m).toBe(wallText(first.lastmodifieddate as number, 'America/New_York'));
      expect(Date.parse(`${m.replace(' ', 'T')}Z`)).toBeLessThanOrEqual(
        (first.lastmodifieddate as number) - 4 * 3_600_000,
      );

      const config = netsuiteConfig(url, { streams: ['customer'], deletes: false });
      const full = await syncSystem(deps(), 'ns_tz', 'netsuite', config, { limits: FAST_BACKOFF });
      expect(full.status, full.error).toBe('completed');
      const c = [...sb.table('customer').keys()][2]!;
      // Stamped after the run (a minute ahead: within the future-stamp tolerance, where an hour
      // ahead would be dead-lettered): a UTC window start read on a New York clock skips it.
      sb.update('customer', c, { companyname: 'Changed an hour later' }, Date.now() + 60_000);
      const inc = await syncSystem(deps(), 'ns_tz', 'netsuite', config, { limits: FAST_BACKOFF });
      expect(inc.status, inc.error).toBe('completed');
      const rows = await staged('ns_tz', 'customer', 'name');
      const changed = rows.find((r) => r.source_id === String(c))!;
      expect(changed.name).toBe('Changed an hour later');
      // Versions are the true instants, whatever the user's time zone.
      for (const r of rows)
        expect(r.version).toBe(
          String(BigInt(sb.table('customer').get(Number(r.source_id))!.lastmodifieddate as number) * 1000n),
        );
    });
  });

  it('item 4: a full load stopped mid-way and finished by an incremental run, east of UTC, misses no change', async () => {
    const sb = new NetsuiteSandbox({
      seed: 28,
      counts: { ...customersOnly, customer: 30 },
      tokens: ['ns-token'],
      timeZone: 'Asia/Tokyo',
      baseTime: Date.now() - 3_600_000,
    });
    await withSandbox(sb, async (url) => {
      const config = netsuiteConfig(url, {
        streams: ['customer'],
        deletes: false,
        pageSize: 10,
        stageBatchRows: 10,
      });
      const stopped = await syncSystem(deps(), 'ns_tokyo', 'netsuite', config, {
        limits: FAST_BACKOFF,
        onUnitStaged: () => {
          throw new Error('simulated crash');
        },
      });
      expect(stopped.status).toBe('failed');
      // Changed after the stopped run began: the run that finishes the load must search from its start.
      const c = [...sb.table('customer').keys()][25]!;
      sb.update('customer', c, { companyname: 'Changed while stopped' }, Date.now() + 2000);
      const done = await syncSystem(deps(), 'ns_tokyo', 'netsuite', config, {
        limits: FAST_BACKOFF,
        mode: 'incremental',
      });
      expect(done.status, done.error).toBe('completed');
      const rows = await staged('ns_tokyo', 'customer', 'name');
      expect(rows).toHaveLength(30);
      expect(rows.find((r) => r.source_id === String(c))!.name).toBe('Changed while stopped');
    });
  });

  it('item 11: no daily quota; a 429 is the per-account concurrency limit, retried and never a pause', async () => {
    const policy = netsuitePolicy({ signer: () => ({}) });
    const limited = JSON.stringify({
      title: 'Too Many Requests',
      status: 429,
      'o:errorDetails': [{ detail: 'limit', 'o:errorCode': 'REQUEST_LIMIT_EXCEEDED' }],
    });
    expect(policy.classify(429, new Headers(), limited).kind).toBe('transient');
    const sb = new NetsuiteSandbox({ seed: 25, counts: customersOnly, tokens: ['ns-token'] });
    await withSandbox(sb, async (url) => {
      sb.server.respondNext('dailyLimited');
      const answer = await suiteql(url, 'SELECT id FROM customer');
      expect(answer.status).toBe(429);
      expect(errorDetail(answer.body)['o:errorCode']).toBe('CONCURRENCY_LIMIT_EXCEEDED');
      sb.server.respondNext('dailyLimited', 'rateLimited', 'dailyLimited');
      const report = await syncSystem(
        deps(),
        'ns_429',
        'netsuite',
        netsuiteConfig(url, { streams: ['customer'] }),
        {
          limits: FAST_BACKOFF,
        },
      );
      expect(report.status, report.error).toBe('completed');
      expect(report.throttled).toBeGreaterThanOrEqual(3);
    });
  });

  it('token-based auth: the sandbox recomputes the HMAC-SHA256 signature; wrong secrets and replays are 401', async () => {
    const creds = {
      realm: '1234567',
      consumerKey: 'ck',
      consumerSecret: 'cs',
      tokenId: 'tid',
      tokenSecret: 'ts',
    };
    const sb = new NetsuiteSandbox({ seed: 26, counts: customersOnly, oauth1: creds });
    await withSandbox(sb, async (url) => {
      const oauth = (extra: Record<string, unknown>) =>
        netsuiteConfig(url, {
          accessToken: undefined,
          oauth1: { ...creds, ...extra },
          streams: ['customer'],
          deletes: false,
        });
      const ok = await syncSystem(deps(), 'ns_tba', 'netsuite', oauth({}), { limits: FAST_BACKOFF });
      expect(ok.status, ok.error).toBe('completed');
      expect(await staged('ns_tba', 'customer', 'name')).toHaveLength(12);

      const wrong = await syncSystem(deps(), 'ns_tba_bad', 'netsuite', oauth({ tokenSecret: 'nope' }), {
        limits: FAST_BACKOFF,
      });
      expect(wrong.status).toBe('failed');
      expect(wrong.error).toMatch(/INVALID_LOGIN/);

      const target = new URL(`${url}/services/rest/query/v1/suiteql?limit=5&offset=0`);
      const header = oauth1Header(creds, { method: 'POST', url: target });
      const send = (authorization: string) =>
        fetch(target, {
          method: 'POST',
          headers: { authorization, prefer: 'transient', 'content-type': 'application/json' },
          body: JSON.stringify({ q: 'SELECT id FROM customer' }),
        });
      expect((await send(header)).status).toBe(200);
      expect((await send(header)).status).toBe(401); // the same nonce again
      expect((await send('Bearer anything')).status).toBe(401);
    });
  });

  it('the refresh hook reaches the writer: an expired bearer token is refreshed and the upsert goes through', async () => {
    const sb = new NetsuiteSandbox({ seed: 27, counts: customersOnly, tokens: ['first'] });
    await withSandbox(sb, async (url) => {
      sb.server.expireToken();
      let refreshed = 0;
      const writer = createNetsuiteWriter(
        {
          logger,
          options: {
            refreshAuth: async () => {
              refreshed++;
              return sb.server.issueToken();
            },
          },
        },
        'acme',
        'netsuite',
        netsuiteConfig(url, { accessToken: 'first' }),
        { limits: FAST_BACKOFF },
      );
      try {
        const out = await writer.upsert('customer', [
          { externalId: 'hs-refresh', fields: { name: 'Fresh AG' } },
        ]);
        expect(out.failed).toEqual([]);
        expect(out.written).toHaveLength(1);
        expect(refreshed).toBe(1);
      } finally {
        await writer.close();
      }
    });
  });
});

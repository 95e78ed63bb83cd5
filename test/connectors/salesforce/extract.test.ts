// Salesforce extraction against the sandbox and embedded Postgres: full load, incremental with
// inserts/updates/deletes, restart mid-extraction, a fault storm, malformed rows, the daily
// limit pausing one tenant while another completes, 401 refresh, and mapping overrides.
import { afterAll, describe, expect, it } from 'vitest';
import type { SyncOptions } from '../../../pipeline/connectors/contract.js';
import type { SalesforceSandbox } from '../../../pipeline/connectors/salesforce/sandbox.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { listCheckpoints } from '../../../staging/checkpoints.js';
import { listDeadLetters } from '../../../staging/control/dead-letters.js';
import { useTestDatabase } from '../../support/database.js';
import {
  expectEqual,
  FAST_BULK,
  FAST_LIMITS,
  quietLogger,
  staged,
  startSandbox,
  systemConfig,
} from '../../support/salesforce.js';

const t = useTestDatabase('sfx');
const sandboxes: SalesforceSandbox[] = [];
afterAll(async () => {
  await Promise.all(sandboxes.map((s) => s.close()));
});

async function sandbox(opts: Parameters<typeof startSandbox>[0] = {}) {
  const s = await startSandbox(opts);
  sandboxes.push(s);
  return s;
}

const deps = () => ({ staging: t.staging, logger: quietLogger });
const sync = (s: SalesforceSandbox, tenant: string, opts: SyncOptions = {}, extra = {}) =>
  syncSystem(
    deps(),
    tenant,
    'crm',
    systemConfig(s, { bulk: { ...FAST_BULK, maxRecords: 100, batchSize: 60 }, ...extra }),
    { limits: FAST_LIMITS, ...opts },
  );

describe('salesforce extraction', () => {
  it('full load equals the sandbox, with nulls, quoting, booleans and value maps', async () => {
    const s = await sandbox({ seed: 3 });
    const report = await sync(s, 'full');
    expect(report.status).toBe('completed');
    expect(report.streams.map((r) => [r.stream, r.mode, r.status])).toEqual([
      ['Account', 'full', 'completed'],
      ['Product2', 'full', 'completed'],
      ['Order', 'full', 'completed'],
      ['Invoice__c', 'full', 'completed'],
    ]);
    expect(await expectEqual(t.staging, s, 'full')).toEqual([]);

    const customers = await staged(t.staging, 'full', 'customer');
    const tricky = [...s.rows('Account')].find((r) => r.Name!.includes('"') || r.Name!.includes('\n'))!;
    expect(customers.get(tricky.Id!)?.name).toBe(tricky.Name);
    const noWebsite = [...s.rows('Account')].find((r) => r.Website === '')!;
    expect(customers.get(noWebsite.Id!)?.website).toBeNull();
    expect(customers.get(noWebsite.Id!)?.crm_ref).toBe(noWebsite.Id);
    const products = await staged(t.staging, 'full', 'product');
    expect([...products.values()].every((p) => typeof p.active === 'boolean')).toBe(true);
    const invoices = await staged(t.staging, 'full', 'invoice');
    expect(new Set([...invoices.values()].map((i) => i.status))).toEqual(new Set(['paid', 'open']));

    const cps = await listCheckpoints(t.staging.db, 'full');
    expect(cps.map((c) => [c.stream, c.state])).toEqual(
      expect.arrayContaining([
        ['Account', 'ok'],
        ['Invoice__c', 'ok'],
      ]),
    );
    expect(cps.find((c) => c.stream === 'Account')?.position).toEqual({ since: expect.any(String) });
  });

  it('incremental after inserts, updates and deletes equals the sandbox again', async () => {
    const s = await sandbox({ seed: 4 });
    await sync(s, 'incr');
    const accounts = [...s.rows('Account')];
    s.update('Account', accounts[0]!.Id!, { Name: 'Renamed GmbH', Website: '' });
    s.delete('Account', accounts[1]!.Id!);
    const created = s.insert('Account', { Name: 'New Customer', ERP_Id__c: 'E-NEW' });
    s.delete('Invoice__c', [...s.rows('Invoice__c')][0]!.Id!);
    await new Promise((r) => setTimeout(r, 1100)); // windows end on whole seconds
    const report = await sync(s, 'incr');
    expect(report.status).toBe('completed');
    const acc = report.streams.find((r) => r.stream === 'Account')!;
    expect(acc.mode).toBe('incremental');
    expect(acc.received).toBe(3);
    expect(acc.deleted).toBe(1);
    expect(report.streams.find((r) => r.stream === 'Product2')!.received).toBe(0);
    expect(await expectEqual(t.staging, s, 'incr')).toEqual([]);
    const customers = await staged(t.staging, 'incr', 'customer');
    expect(customers.get(accounts[0]!.Id!)).toMatchObject({ name: 'Renamed GmbH', website: null });
    expect(customers.get(accounts[1]!.Id!)?.deleted).toBe(true);
    expect(customers.get(created.Id!)).toMatchObject({
      name: 'New Customer',
      erp_ref: 'E-NEW',
      deleted: false,
    });
  });

  it('restart mid-extraction resumes from the checkpoint without loss or duplicates', async () => {
    const s = await sandbox({ seed: 5, accounts: 500 });
    let units = 0;
    const first = await sync(s, 'restart', {
      streams: ['Account'],
      onUnitStaged: () => {
        if (++units === 4) throw new Error('simulated crash');
      },
    });
    expect(first.status).toBe('failed');
    const [cp] = (await listCheckpoints(t.staging.db, 'restart')).filter((c) => c.stream === 'Account');
    expect(cp?.position).toMatchObject({ since: null, window: { jobId: expect.any(String) } });
    const stagedBefore = (await staged(t.staging, 'restart', 'customer')).size;
    expect(stagedBefore).toBeGreaterThan(0);
    expect(stagedBefore).toBeLessThan(500);

    const second = await sync(s, 'restart', { streams: ['Account'] });
    expect(second.status).toBe('completed');
    const acc = second.streams[0]!;
    // Only what was not staged is read again, and every row is new.
    expect(acc.received).toBe(500 - stagedBefore);
    expect(acc.inserted).toBe(500 - stagedBefore);
    expect(acc.updated + acc.ignored).toBe(0);
    expect(await expectEqual(t.staging, s, 'restart', [['Account', 'customer']])).toEqual([]);
  });

  it('a fault storm (30 % 429/5xx/dropped, bodies cut mid-stream) completes with staging equal to the source', async () => {
    const s = await sandbox({
      seed: 6,
      faults: { rateLimitRate: 0.1, serverErrorRate: 0.1, dropRate: 0.1, seed: 99 },
      midStreamDropRate: 0.3,
    });
    const report = await sync(s, 'storm');
    expect(report.status).toBe('completed');
    expect(s.server.counters.faulted).toBeGreaterThan(5);
    expect(report.retries).toBeGreaterThan(0);
    expect(s.midStreamDrops).toBeGreaterThan(0);
    // Bounded: about one retry per injected fault (a dropped keep-alive socket can cost one more).
    expect(report.retries).toBeLessThanOrEqual(s.server.counters.faulted + s.midStreamDrops + 5);
    expect(report.retries).toBeLessThan(report.requests / 2);
    expect(await expectEqual(t.staging, s, 'storm')).toEqual([]);
  });

  it('bounds the reads of one result chunk: the client retries and the re-reads share one budget', async () => {
    // Every results body is cut half-way, and half the results GETs answer 503: before the shared
    // budget a chunk could be read (maxRetries + 1)² times (client retries inside extractor retries).
    const s = await sandbox({
      seed: 13,
      midStreamDropRate: 1,
      faults: { serverErrorRate: 0.5, seed: 5, exempt: /^(?!.*\/results$)/ },
    });
    const report = await sync(s, 'nested', {
      streams: ['Account'],
      limits: { ...FAST_LIMITS, maxRetries: 3 },
    });
    expect(report.status).toBe('failed');
    const reads = [...s.server.requestsByPath]
      .filter(([k]) => /^GET .*\/results$/.test(k))
      .reduce((n, [, v]) => n + v, 0);
    expect(reads).toBe(4);
    expect(s.server.counters.faulted).toBeGreaterThan(0);
  });

  it('dead-letters malformed rows with their location and stages the rest', async () => {
    const s = await sandbox({ seed: 7 });
    const bad = [...s.rows('Account')][10]!;
    s.corrupt(bad.Id!);
    const report = await sync(s, 'malformed', { streams: ['Account'] });
    expect(report.status).toBe('completed');
    expect(report.streams[0]!.deadLettered).toBe(1);
    const customers = await staged(t.staging, 'malformed', 'customer');
    expect(customers.size).toBe(299);
    expect(customers.has(bad.Id!)).toBe(false);
    const [dl] = await listDeadLetters(t.staging.db, { tenant: 'malformed' });
    expect(dl).toMatchObject({ sourceId: bad.Id, errorKind: 'mapping', entity: 'customer' });
    expect(dl!.errorMessage).toMatch(/row has 16 cells, the header has 15/);
    expect(dl!.location).toMatch(/salesforce Account job 750\d+ chunk first row 11/);
  });

  it('daily limit pauses that tenant with a status while another tenant completes', async () => {
    const limited = await sandbox({ seed: 8, faults: { dailyLimit: 6 } });
    const healthy = await sandbox({ seed: 9 });
    const [a, b] = await Promise.all([sync(limited, 'limited'), sync(healthy, 'healthy')]);
    expect(a.status).toBe('paused');
    expect(a.error).toMatch(/REQUEST_LIMIT_EXCEEDED/);
    expect(b.status).toBe('completed');
    expect(await expectEqual(t.staging, healthy, 'healthy')).toEqual([]);
    const states = await listCheckpoints(t.staging.db, 'limited');
    const paused = states.filter((c) => c.state === 'paused');
    expect(paused.length).toBeGreaterThan(0);
    expect(paused[0]!.detail).toMatch(/daily API limit reached/);
    expect(paused.map((c) => c.stream)).toContain('Invoice__c');

    // The next window (limit reset) resumes and completes.
    limited.server.setFaults({});
    const again = await sync(limited, 'limited');
    expect(again.status).toBe('completed');
    expect(await expectEqual(t.staging, limited, 'limited')).toEqual([]);
    expect((await listCheckpoints(t.staging.db, 'limited')).every((c) => c.state === 'ok')).toBe(true);
  });

  it('refreshes an expired token once on 401', async () => {
    const s = await sandbox({ seed: 10, tokens: ['fresh-token'] });
    let refreshed = 0;
    const report = await sync(s, 'auth', {
      streams: ['Product2'],
      refreshAuth: async () => {
        refreshed++;
        return 'fresh-token';
      },
    });
    expect(report.status).toBe('completed');
    expect(refreshed).toBe(1);
    const denied = await sync(s, 'auth2', { streams: ['Product2'] });
    expect(denied.status).toBe('failed');
    expect(denied.error).toMatch(/INVALID_SESSION_ID/);
  });

  it('applies tenant field overrides and extra objects (Opportunity → order)', async () => {
    const s = await sandbox({ seed: 11 });
    const report = await sync(
      s,
      'overrides',
      {
        entities: {
          customer: {
            mapping: {
              crm: {
                fields: { legal_name: 'Name', lifecycle_stage: '' },
                valueMaps: { billing_country: { DE: 'Germany' } },
              },
            },
            mappingVersion: 3,
          },
        } as never,
      },
      { objects: { Account: 'customer', Opportunity: { entity: 'order', fields: { number: 'Id' } } } },
    );
    expect(report.status).toBe('completed');
    const customers = [...(await staged(t.staging, 'overrides', 'customer')).values()];
    expect(customers.every((c) => c.legal_name === c.name && c.lifecycle_stage === null)).toBe(true);
    expect(customers[0]!.mapping_version).toBe(3);
    const countries = new Set(customers.map((c) => c.billing_country));
    expect(countries.has('Germany') && !countries.has('DE')).toBe(true);
    const bad = await sync(s, 'overrides-bad', {
      entities: { customer: { mapping: { crm: { fields: { tax_id: 'Tax Id' } } } } } as never,
    });
    expect(bad.status).toBe('failed');
    expect(bad.error).toMatch(/entities\.customer\.mapping\.crm\.tax_id: "Tax Id" is not a field API name/);
    const orders = [...(await staged(t.staging, 'overrides', 'order')).values()];
    expect(orders).toHaveLength(50);
    expect(orders.every((o) => o.number === o.id && String(o.id).startsWith('006'))).toBe(true);
  });

  it('a mapping naming a field the org lacks fails that stream only', async () => {
    const s = await sandbox({ seed: 12 });
    const report = await sync(
      s,
      'badfield',
      {},
      {
        objects: {
          Account: { entity: 'customer', fields: { tax_id: 'VAT_Number__c' } },
          Product2: 'product',
        },
      },
    );
    expect(report.status).toBe('failed');
    expect(report.streams.map((r) => r.status)).toEqual(['failed', 'completed']);
    expect(report.streams[0]!.detail).toMatch(/INVALID_FIELD.*VAT_Number__c/);
    const cps = await listCheckpoints(t.staging.db, 'badfield');
    expect(cps.find((c) => c.stream === 'Account')?.state).toBe('failed');
  });
});

describe('salesforce sandbox seeded from the ground-truth generator', () => {
  it('extracts exactly the generated CRM records', async () => {
    const { generateTenant } = await import('../../../pipeline/generator/ground-truth.js');
    const { salesforceSeedFromGroundTruth } = await import(
      '../../../pipeline/connectors/salesforce/sandbox-ground-truth.js'
    );
    const { SalesforceSandbox } = await import('../../../pipeline/connectors/salesforce/sandbox.js');
    const truthTenant = generateTenant({
      tenant: 'gt',
      seed: 5,
      counts: { customer: 60, product: 20, order: 30, invoice: 30 },
    });
    const s = new SalesforceSandbox({
      seed: salesforceSeedFromGroundTruth(truthTenant),
      tokens: ['sandbox-token'],
    });
    await s.listen();
    sandboxes.push(s);
    const report = await sync(s, 'gt');
    expect(report.status).toBe('completed');
    for (const entity of ['customer', 'product', 'order', 'invoice'] as const) {
      const got = await staged(t.staging, 'gt', entity);
      const want = truthTenant.entities[entity].crm;
      expect(got.size).toBe(want.length);
      for (const r of want) expect(got.get(r.sourceId)?.deleted).toBe(r.deleted === true);
    }
    const c = truthTenant.entities.customer.crm.find((r) => !r.deleted && r.fields.name)!;
    expect((await staged(t.staging, 'gt', 'customer')).get(c.sourceId)?.name).toBe(c.fields.name);
  });
});

describe('salesforce window ends and clock skew', () => {
  it('never cuts a window in Salesforce’s future when the local clock runs ahead', async () => {
    const s = await sandbox({ seed: 13 });
    const report = await sync(s, 'skew', { streams: ['Product2'], now: () => Date.now() + 3_600_000 });
    expect(report.status).toBe('completed');
    const [cp] = await listCheckpoints(t.staging.db, 'skew');
    const since = Date.parse((cp!.position as { since: string }).since);
    expect(since).toBeLessThanOrEqual(Date.now());
    // A record written now (Salesforce time) lands in the next window, not in a skipped gap.
    const p = s.insert('Product2', { Name: 'Late writer' });
    await new Promise((r) => setTimeout(r, 1100));
    await sync(s, 'skew', { streams: ['Product2'], now: () => Date.now() + 3_600_000 });
    expect((await staged(t.staging, 'skew', 'product')).get(p.Id!)?.name).toBe('Late writer');
  });
});

describe('salesforce result chunks without Sforce-NumberOfRecords', () => {
  it('a chunk cut off cleanly (no count header) is not taken as complete', async () => {
    // One results body in five ends half-way on a line boundary, without an error.
    const s = await sandbox({ seed: 14, omitNumberOfRecords: true, cleanCutRate: 0.2 });
    const report = await sync(s, 'cleancut', { streams: ['Account'] });
    expect(s.cleanCuts).toBeGreaterThan(0);
    expect(report.streams[0]?.detail).toBeUndefined();
    expect(report.status).toBe('completed');
    expect(await expectEqual(t.staging, s, 'cleancut', [['Account', 'customer']])).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { NetsuiteSandbox } from '../../../pipeline/connectors/netsuite/netsuite-sandbox.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import { listCheckpoints } from '../../../staging/checkpoints.js';
import { listDeadLetters } from '../../../staging/control/dead-letters.js';
import { useTestDatabase } from '../../support/database.js';
import { FAST_BACKOFF, netsuiteConfig, sandboxSnapshot, stagingSnapshot } from '../../support/netsuite.js';

const t = useTestDatabase('netsuite');
const logger = createLogger({ level: 'silent' });

const deps = () => ({ staging: t.staging, logger });

describe('NetSuite extraction against the sandbox', () => {
  it('full load, then incremental after inserts, updates and deletes, equals the sandbox', async () => {
    const sb = new NetsuiteSandbox({
      seed: 4,
      counts: { customer: 120, item: 40, salesorder: 90, invoice: 80, payment: 30 },
      tokens: ['ns-token'],
    });
    const url = await sb.listen();
    try {
      const config = netsuiteConfig(url, { pageSize: 50, stageBatchRows: 100 });
      const full = await syncSystem(deps(), 'acme', 'netsuite', config, { limits: FAST_BACKOFF });
      expect(full.status).toBe('completed');
      expect(await stagingSnapshot(t, 'acme')).toEqual(sandboxSnapshot(sb));
      const row = await t.staging.pool.query(
        `SELECT erp_ref, erp_customer_number, credit_limit FROM staging.customer WHERE tenant_id = 'acme' ORDER BY source_id::int LIMIT 1`,
      );
      expect(row.rows[0].erp_ref).toBe(String([...sb.table('customer').keys()][0]));
      expect(row.rows[0].erp_customer_number).toBe('C000001');

      const later = Date.now() + 5000;
      const [c1, c2] = [...sb.table('customer').keys()];
      sb.update('customer', c1!, { companyname: 'Renamed SA', creditlimit: 5000 }, later);
      sb.remove('customer', c2!, later);
      const inv = [...sb.table('transaction').values()].find((r) => r.type === 'CustInvc')!;
      sb.update('transaction', inv.id as number, { status: 'B', foreignamountremaining: 0 }, later);
      const so = [...sb.table('transaction').values()].find((r) => r.type === 'SalesOrd')!;
      sb.remove('transaction', so.id as number, later + 1000);
      sb.insert(
        'item',
        {
          itemid: 'SKU-NEW',
          displayname: 'New',
          itemtype: 'InvtPart',
          baseprice: 10,
          isinactive: 'F',
          externalid: null,
        },
        later,
      );

      const inc = await syncSystem(deps(), 'acme', 'netsuite', config, { limits: FAST_BACKOFF });
      expect(inc.status).toBe('completed');
      expect(inc.streams.map((s) => s.mode)).toEqual([
        'incremental',
        'incremental',
        'incremental',
        'incremental',
        'incremental',
        'incremental',
      ]);
      expect(await stagingSnapshot(t, 'acme')).toEqual(sandboxSnapshot(sb));
      const paid = await t.staging.pool.query(
        `SELECT status, balance FROM staging.invoice WHERE tenant_id = 'acme' AND source_id = $1`,
        [String(inv.id)],
      );
      expect(paid.rows[0]).toEqual({ status: 'paid', balance: '0' });
      expect(inc.streams.find((s) => s.stream === 'deletedrecord')!.deleted).toBe(2);
      // Incremental reads only what changed.
      expect(inc.streams.reduce((n, s) => n + s.received, 0)).toBeLessThan(10);
    } finally {
      await sb.close();
    }
  });

  it('resumes a crashed full load from the committed keyset without repeats', async () => {
    const sb = new NetsuiteSandbox({
      seed: 8,
      counts: { customer: 1000, item: 0, salesorder: 0, invoice: 0, payment: 0 },
    });
    const url = await sb.listen();
    try {
      const config = netsuiteConfig(url, { streams: ['customer'], pageSize: 100, stageBatchRows: 200 });
      let units = 0;
      const crashed = await syncSystem(deps(), 'resume', 'netsuite', config, {
        limits: FAST_BACKOFF,
        onUnitStaged: () => {
          if (++units === 2) throw new Error('simulated crash');
        },
      });
      expect(crashed.status).toBe('failed');
      const again = await syncSystem(deps(), 'resume', 'netsuite', config, { limits: FAST_BACKOFF });
      expect(again.status).toBe('completed');
      const customer = again.streams.find((s) => s.stream === 'customer')!;
      expect(customer.received).toBe(600);
      expect(customer.ignored).toBe(0);
      expect(await stagingSnapshot(t, 'resume')).toEqual(sandboxSnapshot(sb));
    } finally {
      await sb.close();
    }
  });

  it('dead-letters malformed rows and stages the rest', async () => {
    const sb = new NetsuiteSandbox({
      seed: 2,
      counts: { customer: 30, item: 0, salesorder: 0, invoice: 0, payment: 0 },
    });
    const [a, b] = [...sb.table('customer').keys()];
    sb.table('customer').get(a!)!.creditlimit = 'lots';
    sb.table('customer').get(b!)!.lastmodifieddate = null;
    const url = await sb.listen();
    try {
      const report = await syncSystem(
        deps(),
        'bad',
        'netsuite',
        netsuiteConfig(url, { streams: ['customer'] }),
        {
          limits: FAST_BACKOFF,
        },
      );
      expect(report.status).toBe('completed');
      const dead = await listDeadLetters(t.staging.db, { tenant: 'bad' });
      expect(dead.map((d) => d.sourceId).sort()).toEqual([String(a), String(b)].sort());
      expect(dead.find((d) => d.sourceId === String(a))!.errorMessage).toMatch(/credit_limit/);
      const n = await t.staging.pool.query(
        `SELECT count(*)::int AS n FROM staging.customer WHERE tenant_id = 'bad'`,
      );
      expect(n.rows[0].n).toBe(28);
    } finally {
      await sb.close();
    }
  });

  // NetSuite has no daily request quota (WIRE.md): an account that keeps answering 429 (its
  // concurrency limit) fails the tenant's streams once the retries are spent, never pauses them.
  it('a tenant whose account keeps answering 429 fails, never paused, while another tenant completes', async () => {
    const limited = new NetsuiteSandbox({ seed: 1, counts: { customer: 500 }, faults: { dailyLimit: 2 } });
    const healthy = new NetsuiteSandbox({ seed: 2, counts: { customer: 300 } });
    const [u1, u2] = await Promise.all([limited.listen(), healthy.listen()]);
    try {
      const [a, b] = await Promise.all([
        syncSystem(
          deps(),
          'ns_limited',
          'netsuite',
          netsuiteConfig(u1, { pageSize: 100, stageBatchRows: 100 }),
          { limits: FAST_BACKOFF },
        ),
        syncSystem(deps(), 'ns_healthy', 'netsuite', netsuiteConfig(u2, { pageSize: 100 }), {
          limits: FAST_BACKOFF,
        }),
      ]);
      expect(a.status).toBe('failed');
      expect(a.error).toMatch(/CONCURRENCY_LIMIT_EXCEEDED/);
      expect(b.status).toBe('completed');
      expect(await stagingSnapshot(t, 'ns_healthy')).toEqual(sandboxSnapshot(healthy));
      const cps = await listCheckpoints(t.staging.db, 'ns_limited');
      expect(cps.find((c) => c.stream === 'customer')!.state).toBe('failed');
      expect(cps.find((c) => c.stream === 'deletedrecord')!.state).toBe('failed');
      limited.server.setFaults({});
      const resumed = await syncSystem(
        deps(),
        'ns_limited',
        'netsuite',
        netsuiteConfig(u1, { pageSize: 100, stageBatchRows: 100 }),
        { limits: FAST_BACKOFF },
      );
      expect(resumed.status).toBe('completed');
      expect(await stagingSnapshot(t, 'ns_limited')).toEqual(sandboxSnapshot(limited));
    } finally {
      await Promise.all([limited.close(), healthy.close()]);
    }
  });

  it('completes through a 30 % storm of 429s, 5xx and dropped connections', async () => {
    const sb = new NetsuiteSandbox({
      seed: 6,
      counts: { customer: 400, item: 50, salesorder: 100, invoice: 100, payment: 50 },
      faults: { rateLimitRate: 0.12, serverErrorRate: 0.1, dropRate: 0.08, seed: 23 },
    });
    const url = await sb.listen();
    try {
      const config = netsuiteConfig(url, { pageSize: 50, stageBatchRows: 100 });
      const full = await syncSystem(deps(), 'ns_storm', 'netsuite', config, { limits: FAST_BACKOFF });
      expect(full.status).toBe('completed');
      expect(full.throttled).toBeGreaterThan(0);
      expect(full.retries).toBeLessThan(full.requests);
      sb.update('customer', [...sb.table('customer').keys()][5]!, { phone: '0' }, Date.now() + 3000);
      const inc = await syncSystem(deps(), 'ns_storm', 'netsuite', config, { limits: FAST_BACKOFF });
      expect(inc.status).toBe('completed');
      expect(await stagingSnapshot(t, 'ns_storm')).toEqual(sandboxSnapshot(sb));
    } finally {
      await sb.close();
    }
  });

  it("reads the tenant's entities.<entity>.mapping.<system>, selecting the columns it names", async () => {
    const sb = new NetsuiteSandbox({
      seed: 8,
      counts: { customer: 25, item: 0, salesorder: 0, invoice: 0, payment: 0 },
    });
    const url = await sb.listen();
    try {
      const config = netsuiteConfig(url, {
        streams: ['customer'],
        deletes: false,
        // The system's own override wins over the tenant's for the same field.
        mapping: { customer: { fields: { legal_name: 'entityid' } } },
      });
      const entities = {
        customer: {
          mapping: {
            netsuite: {
              // isinactive is not a default column: naming it makes the query select it.
              fields: { legal_name: 'companyname', company: 'isinactive', phone: '' },
              valueMaps: { company: { F: 'active', T: 'inactive' } },
            },
          },
          mappingVersion: 2,
        },
      } as never;
      const report = await syncSystem(deps(), 'ns-over', 'netsuite', config, {
        limits: FAST_BACKOFF,
        entities,
      });
      expect(report.status).toBe('completed');
      const rows = await t.staging.pool.query(
        `SELECT source_id, name, legal_name, company, phone, mapping_version
           FROM staging.customer WHERE tenant_id = 'ns-over'`,
      );
      expect(rows.rows).toHaveLength(25);
      for (const r of rows.rows) {
        const src = sb.table('customer').get(Number(r.source_id))!;
        expect(r).toMatchObject({
          name: src.companyname,
          legal_name: src.entityid,
          company: src.isinactive === 'T' ? 'inactive' : 'active',
          phone: null,
          mapping_version: 2,
        });
      }

      const hostile = await syncSystem(deps(), 'ns-bad', 'netsuite', config, {
        limits: FAST_BACKOFF,
        entities: {
          customer: { mapping: { netsuite: { fields: { name: 'companyname FROM customer --' } } } },
        } as never,
      });
      expect(hostile.status).toBe('failed');
      expect(hostile.requests).toBe(0);
      expect(hostile.error).toMatch(
        /entities\.customer\.mapping\.netsuite\.name: .* is not a SuiteQL column name/,
      );
    } finally {
      await sb.close();
    }
  });
});

describe('NetSuite keyset paging', () => {
  // With limit/offset paging, a record deleted or modified in the part already read shifted every
  // later row one place down: the row at the next page boundary was never read, while the
  // checkpoint moved past it. Pages now start after the last row read.
  it('a delete and a modification during the full load lose no unrelated record', async () => {
    const sb = new NetsuiteSandbox({
      counts: { customer: 0, item: 0, salesorder: 0, invoice: 0, payment: 0 },
    });
    const base = Date.UTC(2024, 0, 1);
    sb.bulkInsert('customer', 12, (i) => ({
      entityid: `C${i}`,
      companyname: `Company ${i}`,
      email: null,
      phone: null,
      currency: 'EUR',
      terms: null,
      creditlimit: 1000,
      externalid: null,
      isinactive: 'F',
      lastmodifieddate: base,
    }));
    const ids = [...sb.table('customer').keys()].sort((a, b) => a - b);
    const url = await sb.listen();
    try {
      const config = netsuiteConfig(url, {
        streams: ['customer'],
        deletes: true,
        pageSize: 3,
        stageBatchRows: 3,
      });
      let units = 0;
      const rep = await syncSystem(deps(), 'ns_keyset', 'netsuite', config, {
        limits: FAST_BACKOFF,
        onUnitStaged: () => {
          // Between pages, someone deletes one already-read customer and modifies another.
          if (++units === 1) sb.remove('customer', ids[1]!);
          if (units === 2) sb.update('customer', ids[0]!, { phone: '1' });
        },
      });
      expect(rep.status, rep.error).toBe('completed');
      const staged = (await stagingSnapshot(t, 'ns_keyset')).customer!;
      // Every record the sandbox still holds and that did not change during the load is staged
      // by this one pass; the modified one is (re)read by the next incremental pass.
      const { [String(ids[0])]: _modified, ...unchanged } = sandboxSnapshot(sb).customer!;
      expect(staged).toMatchObject(unchanged);
      expect(Object.keys(staged)).not.toContain(String(ids[1]));
      const again = await syncSystem(deps(), 'ns_keyset', 'netsuite', config, { limits: FAST_BACKOFF });
      expect(again.status, again.error).toBe('completed');
      expect((await stagingSnapshot(t, 'ns_keyset')).customer).toEqual(sandboxSnapshot(sb).customer);
    } finally {
      await sb.close();
    }
  });
});

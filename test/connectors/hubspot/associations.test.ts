// Reference fields from HubSpot associations (config `associations`): full and incremental loads
// stage `customer_ref` / `order_ref` from the v4 batch read, the primary company wins, a
// re-associated deal comes through when its stamp moves (and only then: HubSpot does not document
// that an association change bumps hs_lastmodifieddate), and a bad answer is a failed stream, never
// a null reference.
import { describe, expect, it } from 'vitest';
import { HubspotSandbox } from '../../../pipeline/connectors/hubspot/hubspot-sandbox.js';
import type {
  HubspotSeedRecord,
  HubspotSeedRecords,
} from '../../../pipeline/connectors/hubspot/hubspot-seed.js';
import { rereadSystem, syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { useTestDatabase } from '../../support/database.js';
import { FAST_BACKOFF, hubspotConfig, quietLogger } from '../../support/hubspot.js';

const t = useTestDatabase('hubspot_assoc');
const logger = quietLogger();
const T0 = Date.now() - 3_600_000;

function seed(): HubspotSeedRecords {
  const company = (id: string, name: string) => ({ id, properties: { name }, updatedAt: T0 });
  const deal = (id: string, extra: Partial<HubspotSeedRecord> = {}): HubspotSeedRecord => ({
    id,
    properties: { dealname: `SO-${id}`, amount: '10.00' },
    updatedAt: T0,
    ...extra,
  });
  return {
    companies: [company('101', 'Acme'), company('102', 'Globex'), company('103', 'Initech')],
    deals: [
      deal('201', { associations: { companies: ['101'] } }),
      // Several companies, one primary: the primary wins over the lower id.
      deal('202', { associations: { companies: ['101', { id: '103', primary: true }] } }),
      // Several, none primary: the lowest id.
      deal('203', { associations: { companies: ['103', '102'] } }),
      deal('204'), // none: null
    ],
    invoices: [
      {
        id: '301',
        properties: { hs_number: 'INV-1' },
        updatedAt: T0,
        associations: { companies: ['102'], deals: ['201'] },
      },
    ],
  };
}

const ASSOCIATIONS = {
  deals: { customer_ref: 'companies' },
  invoices: { customer_ref: 'companies', order_ref: 'deals' },
};

async function refs(tenant: string, table: string, cols: string): Promise<Record<string, unknown>> {
  const res = await t.staging.pool.query(
    `SELECT source_id, ${cols} FROM staging."${table}" WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY source_id`,
    [tenant],
  );
  return Object.fromEntries(res.rows.map(({ source_id, ...rest }) => [source_id, rest]));
}

async function withSandbox(sb: HubspotSandbox, fn: (url: string) => Promise<void>): Promise<void> {
  const url = await sb.listen();
  try {
    await fn(url);
  } finally {
    await sb.close();
  }
}

describe('HubSpot references from associations', () => {
  it('full and incremental loads stage customer_ref and order_ref from the v4 associations', async () => {
    const sb = new HubspotSandbox({ records: seed(), tokens: ['test-token'], associationPageSize: 1 });
    await withSandbox(sb, async (url) => {
      const deps = { staging: t.staging, logger };
      const config = hubspotConfig(url, {
        objects: ['companies', 'deals', 'invoices'],
        associations: ASSOCIATIONS,
        overlapMs: 0,
      });
      const full = await syncSystem(deps, 'as_full', 'hubspot', config, { limits: FAST_BACKOFF });
      expect(full.status).toBe('completed');
      expect(await refs('as_full', 'order', 'customer_ref')).toEqual({
        '201': { customer_ref: '101' },
        '202': { customer_ref: '103' },
        '203': { customer_ref: '102' },
        '204': { customer_ref: null },
      });
      expect(await refs('as_full', 'invoice', 'customer_ref, order_ref')).toEqual({
        '301': { customer_ref: '102', order_ref: '201' },
      });

      // Incremental (search, which returns no associations): a new deal and a re-associated one
      // whose own change moved its stamp.
      const later = Date.now();
      const created = sb.create('deals', { dealname: 'SO-new', amount: '5.00' }, later);
      sb.associations.associate('deals', created.id, 'companies', '102');
      sb.associations.dissociate('deals', '201', 'companies');
      sb.associations.associate('deals', '201', 'companies', '103');
      sb.update('deals', '201', { amount: '11.00' }, later + 1);
      const inc = await syncSystem(deps, 'as_full', 'hubspot', config, { limits: FAST_BACKOFF });
      expect(inc.status).toBe('completed');
      expect(inc.streams.find((s) => s.stream === 'deals')?.mode).toBe('incremental');
      const orders = await refs('as_full', 'order', 'customer_ref');
      expect(orders[created.id]).toEqual({ customer_ref: '102' });
      expect(orders['201']).toEqual({ customer_ref: '103' });
    });
  });

  it('a re-association alone reaches staging through the incremental pass only if it moves the stamp', async () => {
    for (const bumps of [false, true]) {
      const tenant = bumps ? 'as_bump' : 'as_nobump';
      const sb = new HubspotSandbox({
        records: seed(),
        tokens: ['test-token'],
        associationChangeBumpsStamp: bumps,
      });
      await withSandbox(sb, async (url) => {
        const deps = { staging: t.staging, logger };
        const config = hubspotConfig(url, { objects: ['deals'], associations: ASSOCIATIONS, overlapMs: 0 });
        expect((await syncSystem(deps, tenant, 'hubspot', config, { limits: FAST_BACKOFF })).status).toBe(
          'completed',
        );
        await new Promise((r) => setTimeout(r, 5));
        sb.associations.dissociate('deals', '201', 'companies');
        sb.associations.associate('deals', '201', 'companies', '102', { primary: true });
        expect((await syncSystem(deps, tenant, 'hubspot', config, { limits: FAST_BACKOFF })).status).toBe(
          'completed',
        );
        // Without a stamp change the incremental search does not return the deal: the old
        // reference stays until the deal changes or is re-read (`trueup backfill`, `--full`).
        expect((await refs(tenant, 'order', 'customer_ref'))['201']).toEqual({
          customer_ref: bumps ? '102' : '101',
        });
        if (!bumps) {
          // The documented remedy: a re-read (backfill). Same stamp, same version, but the staged
          // raw record carries the references read, so the changed one applies on the tie.
          const reread = await rereadSystem(
            deps,
            tenant,
            'hubspot',
            config,
            { entity: 'order', ids: ['201'] },
            { limits: FAST_BACKOFF },
          );
          expect(reread.status, reread.error ?? reread.streams[0]?.detail).toBe('completed');
          expect((await refs(tenant, 'order', 'customer_ref'))['201']).toEqual({ customer_ref: '102' });
          // A window re-read and a full sync go through the same page → associations step.
          sb.associations.associate('deals', '201', 'companies', '103', { primary: true });
          const full = await syncSystem(deps, tenant, 'hubspot', config, {
            limits: FAST_BACKOFF,
            mode: 'full',
          });
          expect(full.status).toBe('completed');
          expect((await refs(tenant, 'order', 'customer_ref'))['201']).toEqual({ customer_ref: '103' });
        }
      });
    }
  });

  it('an associations answer that does not account for every record fails the stream; nothing is staged as null', async () => {
    const sb = new HubspotSandbox({ records: seed(), tokens: ['test-token'] });
    await withSandbox(sb, async (url) => {
      const deps = { staging: t.staging, logger };
      const config = hubspotConfig(url, {
        objects: ['deals'],
        associations: ASSOCIATIONS,
        limits: { requestsPerSecond: 10_000, concurrency: 4, maxRetries: 1, timeoutMs: 5_000 },
      });
      // Every answer drops deal 201 from both results and errors (a 200 that says nothing of it).
      const real = sb.associations.batchRead.bind(sb.associations);
      sb.associations.batchRead = (from, to, body) => {
        const out = real(from, to, body);
        const b = out.body as { results: { from: { id: string } }[] };
        b.results = b.results.filter((r) => r.from.id !== '201');
        return out;
      };
      const res = await syncSystem(deps, 'as_bad', 'hubspot', config, { limits: FAST_BACKOFF });
      expect(res.status).not.toBe('completed');
      expect(JSON.stringify(res.streams.find((s) => s.stream === 'deals'))).toMatch(/neither a result/);
      expect(await refs('as_bad', 'order', 'customer_ref')).toEqual({});

      // An error body (500) retried and then failing is the same: transient, never a null.
      sb.associations.batchRead = () => ({ status: 500, body: { status: 'error', message: 'boom' } });
      const again = await syncSystem(deps, 'as_bad', 'hubspot', config, { limits: FAST_BACKOFF });
      expect(again.status).not.toBe('completed');
      expect(await refs('as_bad', 'order', 'customer_ref')).toEqual({});
    });
  });
});

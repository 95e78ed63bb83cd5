import { describe, expect, it } from 'vitest';
import type { SyncOptions } from '../../../pipeline/connectors/contract.js';
import type { HubspotObjectType } from '../../../pipeline/connectors/hubspot/config.js';
import { HubspotSandbox } from '../../../pipeline/connectors/hubspot/hubspot-sandbox.js';
import { type SyncDeps, syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { listCheckpoints } from '../../../staging/checkpoints.js';
import { listDeadLetters } from '../../../staging/control/dead-letters.js';
import { useTestDatabase } from '../../support/database.js';
import {
  FAST_BACKOFF,
  hubspotConfig,
  quietLogger,
  sandboxSnapshot,
  stagingSnapshot,
} from '../../support/hubspot.js';

const TYPES: HubspotObjectType[] = ['companies', 'products', 'deals', 'invoices'];
const t = useTestDatabase('hubspot');
const logger = quietLogger();

const runHubspotSync = (
  deps: SyncDeps,
  tenant: string,
  system: string,
  config: unknown,
  opts: SyncOptions = {},
) => syncSystem(deps, tenant, system, config, { limits: FAST_BACKOFF, ...opts });

async function withSandbox<T>(sb: HubspotSandbox, fn: (url: string) => Promise<T>): Promise<T> {
  const url = await sb.listen();
  try {
    return await fn(url);
  } finally {
    await sb.close();
  }
}

describe('HubSpot extraction against the sandbox', () => {
  it('full load, then incremental after inserts, updates and deletes, equals the sandbox', async () => {
    const sb = new HubspotSandbox({
      seed: 7,
      counts: { companies: 230, products: 40, deals: 120, invoices: 90 },
      tokens: ['test-token'],
    });
    await withSandbox(sb, async (url) => {
      const deps = { staging: t.staging, logger };
      const config = hubspotConfig(url, { stageBatchRows: 150 });
      const full = await runHubspotSync(deps, 'acme', 'hubspot', config);
      expect(full.status).toBe('completed');
      expect(full.streams.filter((s) => !s.stream.endsWith(':archived')).map((s) => s.mode)).toEqual([
        'full',
        'full',
        'full',
        'full',
      ]);
      expect(await stagingSnapshot(t, 'acme', TYPES)).toEqual(sandboxSnapshot(sb, TYPES));

      // Changes after the full load: stamps move forward.
      const later = Date.now() + 1000;
      const companies = sb.live('companies');
      sb.update('companies', companies[0]!.id, { name: 'Renamed GmbH' }, later);
      sb.update('deals', sb.live('deals')[3]!.id, { amount: '99.95' }, later + 1);
      sb.archive('companies', companies[1]!.id, later + 2);
      sb.archive('invoices', sb.live('invoices')[0]!.id, later + 3);
      const created = sb.create('companies', { name: 'New Co', erp_id: 'C999999' }, later + 4);

      const inc = await runHubspotSync(deps, 'acme', 'hubspot', config);
      expect(inc.status).toBe('completed');
      expect(inc.streams.every((s) => s.mode === 'incremental')).toBe(true);
      expect(await stagingSnapshot(t, 'acme', TYPES)).toEqual(sandboxSnapshot(sb, TYPES));
      const row = await t.staging.pool.query(
        `SELECT name, erp_ref, crm_ref FROM staging.customer WHERE tenant_id = 'acme' AND source_id = $1`,
        [created.id],
      );
      expect(row.rows[0]).toEqual({ name: 'New Co', erp_ref: 'C999999', crm_ref: created.id });
      const tomb = await t.staging.pool.query(
        `SELECT deleted_at IS NOT NULL AS deleted FROM staging.customer WHERE tenant_id = 'acme' AND source_id = $1`,
        [companies[1]!.id],
      );
      expect(tomb.rows[0]).toEqual({ deleted: true });
      // Incremental reads only what changed (plus the few records at the last stamp).
      const received = inc.streams
        .filter((s) => !s.stream.endsWith(':archived'))
        .reduce((n, s) => n + s.received, 0);
      expect(received).toBeLessThan(20);
      const cps = await listCheckpoints(t.staging.db, 'acme');
      expect(cps.map((c) => c.stream).sort()).toEqual([
        'companies',
        'companies:archived',
        'deals',
        'deals:archived',
        'invoices',
        'invoices:archived',
        'products',
        'products:archived',
      ]);
      expect(cps.every((c) => c.state === 'ok')).toBe(true);
    });
  });

  it('resumes a crashed full load and a crashed incremental from the checkpoint', async () => {
    const sb = new HubspotSandbox({
      seed: 9,
      counts: { companies: 600, products: 0, deals: 0, invoices: 0 },
    });
    await withSandbox(sb, async (url) => {
      const deps = { staging: t.staging, logger };
      // overlapMs 0: every incremental run re-reads overlapMs before its checkpoint (index lag), which
      // would re-read all 450 updates below, stamped within 5 ms.
      const config = hubspotConfig(url, { objects: ['companies'], stageBatchRows: 100, overlapMs: 0 });
      let units = 0;
      const crashAfter = (n: number) => () => {
        if (++units === n) throw new Error('simulated crash');
      };
      const crashed = await runHubspotSync(deps, 'resume', 'hubspot', config, {
        onUnitStaged: crashAfter(3),
      });
      expect(crashed.status).toBe('failed');
      const staged = await t.staging.pool.query(
        `SELECT count(*)::int AS n FROM staging.customer WHERE tenant_id = 'resume'`,
      );
      expect(staged.rows[0].n).toBe(300);

      const resumed = await runHubspotSync(deps, 'resume', 'hubspot', config);
      expect(resumed.status).toBe('completed');
      const main = resumed.streams.find((s) => s.stream === 'companies')!;
      expect(main.mode).toBe('full');
      // Resumed after the third page group: no page read twice.
      expect(main.received).toBe(300);
      expect(main.ignored).toBe(0);
      expect(await stagingSnapshot(t, 'resume', ['companies'])).toEqual(sandboxSnapshot(sb, ['companies']));

      // Incremental: 450 updates over a few stamps, crash after two units, resume.
      const base = Date.now() + 5000;
      sb.live('companies')
        .slice(0, 450)
        .forEach((r, i) => {
          sb.update('companies', r.id, { phone: `+1 555 ${i}` }, base + (i % 5));
        });
      units = 0;
      const crashed2 = await runHubspotSync(deps, 'resume', 'hubspot', config, {
        onUnitStaged: crashAfter(2),
      });
      expect(crashed2.status).toBe('failed');
      const again = await runHubspotSync(deps, 'resume', 'hubspot', config);
      expect(again.status).toBe('completed');
      expect(again.streams[0]!.received).toBeLessThan(450);
      expect(await stagingSnapshot(t, 'resume', ['companies'])).toEqual(sandboxSnapshot(sb, ['companies']));
    });
  });

  it('extracts 25,000 records changed within three milliseconds through the 10,000 search cap', async () => {
    // Search's own per-second limit (WIRE.md) lifted on both sides: 130 searches are not the point here.
    const sb = new HubspotSandbox({
      seed: 3,
      counts: { companies: 25_000, products: 0, deals: 0, invoices: 0 },
      searchRequestsPerSecond: 0,
    });
    await withSandbox(sb, async (url) => {
      const deps = { staging: t.staging, logger };
      const config = hubspotConfig(url, { objects: ['companies'], stageBatchRows: 2000 });
      // Start incremental directly from a checkpoint before the burst: the full load is not the point here.
      const since = Date.now() + 10_000;
      const ids = sb.live('companies').map((r) => r.id);
      // 12,000 on one millisecond (more than the cap), the rest on two more.
      ids.forEach((id, i) => {
        sb.update('companies', id, { name: `Burst ${i}` }, since + (i < 12_000 ? 0 : i < 20_000 ? 1 : 2));
      });
      await t.staging.pool.query(
        `INSERT INTO control.checkpoints (tenant_id, system, stream, position) VALUES ('ties', 'hubspot', 'companies', $1),
           ('ties', 'hubspot', 'companies:archived', $2)`,
        [
          JSON.stringify({ phase: 'incremental', since: since - 5 }),
          JSON.stringify({ since, after: null, runStartedAt: null }),
        ],
      );
      const report = await runHubspotSync(deps, 'ties', 'hubspot', config, {
        limits: { ...FAST_BACKOFF, lanes: { search: { requestsPerSecond: 10_000 } } },
      });
      expect(report.status).toBe('completed');
      expect(await stagingSnapshot(t, 'ties', ['companies'])).toEqual(sandboxSnapshot(sb, ['companies']));
      expect(report.streams[0]!.inserted).toBe(25_000);
    });
  });

  it('drops search results stamped before `since` and dead-letters malformed records, the batch goes on', async () => {
    const sb = new HubspotSandbox({
      seed: 11,
      counts: { companies: 50, products: 0, deals: 30, invoices: 0 },
      searchLeakMs: 60_000,
    });
    await withSandbox(sb, async (url) => {
      const deps = { staging: t.staging, logger };
      const config = hubspotConfig(url, { objects: ['companies', 'deals'], overlapMs: 0 });
      expect((await runHubspotSync(deps, 'leak', 'hubspot', config)).status).toBe('completed');
      const later = Date.now() + 100_000;
      const deals = sb.live('deals');
      sb.update('deals', deals[0]!.id, { amount: 'twelve' }, later);
      sb.update('deals', deals[1]!.id, { amount: '12.00' }, later);
      sb.update('companies', sb.live('companies')[0]!.id, { name: 'x' }, later);
      sb.corrupt('companies', sb.live('companies')[0]!.id);
      sb.update('companies', sb.live('companies')[1]!.id, { name: 'y' }, later + 1);
      sb.update('companies', sb.live('companies')[2]!.id, { name: 'z' }, later);
      // Changed just before `since` of the next run: the leaking search returns them, the extractor drops them.
      const report = await runHubspotSync(deps, 'leak', 'hubspot', config);
      expect(report.status).toBe('completed');
      const dead = await listDeadLetters(t.staging.db, { tenant: 'leak' });
      expect(dead.map((d) => d.sourceId).sort()).toEqual([sb.live('companies')[0]!.id, deals[0]!.id].sort());
      expect(dead.find((d) => d.sourceId === deals[0]!.id)!.errorMessage).toMatch(/amount_total/);
      const ok = await t.staging.pool.query(
        `SELECT amount_total FROM staging."order" WHERE tenant_id = 'leak' AND source_id = $1`,
        [deals[1]!.id],
      );
      expect(ok.rows[0]).toEqual({ amount_total: '12' });
      // The next search (GTE the last stamp) leaks the records stamped a millisecond earlier: dropped.
      const again = await runHubspotSync(deps, 'leak', 'hubspot', config);
      const companies = again.streams.find((s) => s.stream === 'companies')!;
      // Received: the record at the last stamp and the malformed one (no readable stamp, dead-lettered again);
      // the valid record stamped a millisecond before `since` was dropped.
      expect(companies.received).toBe(2);
      expect(companies.inserted + companies.updated).toBe(0);
    });
  });

  it("reads the tenant's entities.<entity>.mapping.<system> under the system's own mapping", async () => {
    const sb = new HubspotSandbox({ seed: 5, counts: { companies: 30 }, tokens: ['test-token'] });
    await withSandbox(sb, async (url) => {
      const deps = { staging: t.staging, logger };
      const config = hubspotConfig(url, {
        objects: ['companies'],
        // The system's own override wins over the tenant's for the same field.
        mapping: { companies: { fields: { website: 'city' } } },
      });
      const entities = {
        customer: {
          mapping: {
            hubspot: {
              fields: { legal_name: 'name', website: 'name', phone: '', lifecycle_stage: 'lifecyclestage' },
              valueMaps: { lifecycle_stage: { lead: 'L', customer: 'C', opportunity: 'O' } },
            },
          },
          mappingVersion: 4,
        },
      } as never;
      const report = await runHubspotSync(deps, 'hs-over', 'hubspot', config, { entities });
      expect(report.status).toBe('completed');
      const rows = await t.staging.pool.query(
        `SELECT source_id, name, legal_name, website, phone, lifecycle_stage, mapping_version
           FROM staging.customer WHERE tenant_id = 'hs-over'`,
      );
      expect(rows.rows).toHaveLength(30);
      for (const r of rows.rows) {
        const src = sb.live('companies').find((c) => c.id === r.source_id)!.properties;
        expect(r).toMatchObject({
          name: src.name,
          legal_name: src.name,
          website: src.city,
          phone: null,
          lifecycle_stage: { lead: 'L', customer: 'C', opportunity: 'O' }[src.lifecyclestage as string],
          mapping_version: 4,
        });
      }

      const bad = await runHubspotSync(deps, 'hs-bad', 'hubspot', config, {
        entities: { customer: { mapping: { hubspot: { fields: { shoe_size: 'size' } } } } } as never,
      });
      expect(bad.status).toBe('failed');
      expect(bad.error).toMatch(
        /entities\.customer\.mapping\.hubspot: customer has no canonical field "shoe_size"/,
      );
    });
  });
});

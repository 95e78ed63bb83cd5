// HubSpot incremental search edge cases that lose records: a record modified while the search is
// paged (it moves to the end of the stamp order), and a record that becomes searchable only after
// the run that should have found it (search index lag).
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

const t = useTestDatabase('hubspot_paging');
const logger = quietLogger();

async function withSandbox<T>(sb: HubspotSandbox, fn: (url: string) => Promise<T>): Promise<T> {
  const url = await sb.listen();
  try {
    return await fn(url);
  } finally {
    await sb.close();
  }
}

async function startIncrementalAt(tenant: string, since: number): Promise<void> {
  await t.staging.pool.query(
    `INSERT INTO control.checkpoints (tenant_id, system, stream, position) VALUES ($1, 'hubspot', 'companies', $2),
       ($1, 'hubspot', 'companies:archived', $3)`,
    [
      tenant,
      JSON.stringify({ phase: 'incremental', since }),
      JSON.stringify({ since, after: null, runStartedAt: null }),
    ],
  );
}

const HOUR = 3_600_000;

describe('HubSpot incremental search', () => {
  it('a record modified while the search is paged does not make an unread record skip a page', async () => {
    const sb = new HubspotSandbox({ seed: 21, counts: { companies: 0, products: 0, deals: 0, invoices: 0 } });
    const base = Date.UTC(2025, 0, 1);
    // Stamps hours apart: no overlap window covers a record skipped earlier in the order.
    const recs = Array.from({ length: 7 }, (_, i) =>
      sb.create('companies', { name: `C${i}`, erp_id: `E${i}` }, base + i * HOUR),
    );
    await withSandbox(sb, async (url) => {
      await startIncrementalAt('moving', base - HOUR);
      const config = hubspotConfig(url, { objects: ['companies'], searchPageSize: 2, stageBatchRows: 1 });
      let units = 0;
      const report = await syncSystem({ staging: t.staging, logger }, 'moving', 'hubspot', config, {
        limits: FAST_BACKOFF,
        onUnitStaged: ({ stream }) => {
          // After the first page: the first record is edited, and moves behind the others.
          if (stream === 'companies' && ++units === 1)
            sb.update('companies', recs[0]!.id, { name: 'C0 edited' }, base + 10 * HOUR);
        },
      });
      expect(report.status).toBe('completed');
      expect(await stagingSnapshot(t, 'moving', ['companies'])).toEqual(sandboxSnapshot(sb, ['companies']));
    });
  });

  it('a record that becomes searchable late (index lag) is found by the next run', async () => {
    const sb = new HubspotSandbox({ seed: 22, counts: { companies: 0, products: 0, deals: 0, invoices: 0 } });
    const base = Date.now() - 10 * 60_000;
    const late = sb.create('companies', { name: 'Late', erp_id: 'L1' }, base);
    sb.hideFromSearch('companies', late.id);
    sb.create('companies', { name: 'Visible', erp_id: 'V1' }, base + 20);
    await withSandbox(sb, async (url) => {
      await startIncrementalAt('lag', base - HOUR);
      const config = hubspotConfig(url, { objects: ['companies'], overlapMs: 60_000 });
      const deps = { staging: t.staging, logger };
      expect((await syncSystem(deps, 'lag', 'hubspot', config, { limits: FAST_BACKOFF })).status).toBe(
        'completed',
      );
      sb.indexNow('companies', late.id);
      const again = await syncSystem(deps, 'lag', 'hubspot', config, { limits: FAST_BACKOFF });
      expect(again.status).toBe('completed');
      expect(await stagingSnapshot(t, 'lag', ['companies'])).toEqual(sandboxSnapshot(sb, ['companies']));
      // The checkpoint did not move back while the overlap was re-read.
      const cp = await t.staging.pool.query(
        `SELECT position FROM control.checkpoints WHERE tenant_id = 'lag' AND stream = 'companies'`,
      );
      expect(cp.rows[0].position).toEqual({ phase: 'incremental', since: base + 20 });
    });
  });

  it('drains a millisecond holding more records than a page while records of it are modified', async () => {
    const sb = new HubspotSandbox({ seed: 23, counts: { companies: 0, products: 0, deals: 0, invoices: 0 } });
    const base = Date.UTC(2025, 0, 2);
    const recs = Array.from({ length: 30 }, (_, i) =>
      sb.create('companies', { name: `T${i}`, erp_id: `T${i}` }, base),
    );
    sb.create('companies', { name: 'after', erp_id: 'A' }, base + HOUR);
    await withSandbox(sb, async (url) => {
      await startIncrementalAt('ties', base - HOUR);
      const config = hubspotConfig(url, { objects: ['companies'], searchPageSize: 5, stageBatchRows: 1 });
      let units = 0;
      const report = await syncSystem({ staging: t.staging, logger }, 'ties', 'hubspot', config, {
        limits: FAST_BACKOFF,
        onUnitStaged: ({ stream }) => {
          if (stream === 'companies' && ++units === 2)
            for (const r of recs.slice(0, 3))
              sb.update('companies', r.id, { name: 'moved' }, base + 2 * HOUR);
        },
      });
      expect(report.status).toBe('completed');
      expect(await stagingSnapshot(t, 'ties', ['companies'])).toEqual(sandboxSnapshot(sb, ['companies']));
    });
  });
});

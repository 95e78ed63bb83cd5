// An incremental run while a full load of the same object is unfinished (the process stopped
// during the list pagination): the records the full load had not listed yet must still be staged.
import { describe, expect, it } from 'vitest';
import { HubspotSandbox } from '../../../pipeline/connectors/hubspot/hubspot-sandbox.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { loadCheckpoint } from '../../../staging/checkpoints.js';
import { useTestDatabase } from '../../support/database.js';
import {
  FAST_BACKOFF,
  hubspotConfig,
  quietLogger,
  sandboxSnapshot,
  stagingSnapshot,
} from '../../support/hubspot.js';

const t = useTestDatabase('hubspot_unfinished_full');
const logger = quietLogger();

describe('HubSpot incremental run over an unfinished full load', () => {
  it('finishes the full load from its checkpoint, then searches from its start: every record is staged', async () => {
    // Seeded stamps lie in 2024, long before any incremental window of this run.
    const sb = new HubspotSandbox({
      seed: 31,
      counts: { companies: 50, products: 0, deals: 0, invoices: 0 },
    });
    const url = await sb.listen();
    try {
      const deps = { staging: t.staging, logger };
      const config = hubspotConfig(url, { objects: ['companies'], listPageSize: 10, stageBatchRows: 10 });
      const stopped = await syncSystem(deps, 'unfinished', 'hubspot', config, {
        limits: FAST_BACKOFF,
        onUnitStaged: () => {
          throw new Error('simulated kill after the first page');
        },
      });
      expect(stopped.status).toBe('failed');
      const key = { tenant: 'unfinished', system: 'hubspot', stream: 'companies' };
      const midway = (await loadCheckpoint(t.staging.pool, key)) as { phase: string; after: string };
      expect(midway.phase).toBe('full');
      const staged = await stagingSnapshot(t, 'unfinished', ['companies']);
      expect(Object.keys(staged.customer!)).toHaveLength(10);

      // While the load is stopped: a record it had listed is edited (the resumed list, past its
      // cursor, does not show it again), one is created, one not yet listed is archived.
      const listedId = Object.keys(staged.customer!)[0]!;
      sb.update('companies', listedId, { name: 'edited while stopped' });
      sb.create('companies', { name: 'created while stopped', erp_id: 'NEW1' });
      const unlisted = sb.live('companies').find((r) => !(r.id in staged.customer!))!;
      sb.archive('companies', unlisted.id);

      const inc = await syncSystem(deps, 'unfinished', 'hubspot', config, {
        limits: FAST_BACKOFF,
        mode: 'incremental',
      });
      expect(inc.status).toBe('completed');
      expect(await stagingSnapshot(t, 'unfinished', ['companies'])).toEqual(
        sandboxSnapshot(sb, ['companies']),
      );
      expect(inc.streams.find((s) => s.stream === 'companies')!.mode).toBe('full');
      const after = (await loadCheckpoint(t.staging.pool, key)) as { phase: string; since: number };
      expect(after.phase).toBe('incremental');
      // The incremental part ran in the same run: its checkpoint is at the newest stamp it read.
      expect(after.since).toBe(Math.max(...sb.live('companies').map((r) => r.updatedAt)));

      // And the next incremental run goes on from there.
      sb.update('companies', listedId, { name: 'edited again' }, Date.now() + 1000);
      const next = await syncSystem(deps, 'unfinished', 'hubspot', config, {
        limits: FAST_BACKOFF,
        mode: 'incremental',
      });
      expect(next.status).toBe('completed');
      expect(next.streams[0]!.mode).toBe('incremental');
      expect(await stagingSnapshot(t, 'unfinished', ['companies'])).toEqual(
        sandboxSnapshot(sb, ['companies']),
      );
    } finally {
      await sb.close();
    }
  });
});

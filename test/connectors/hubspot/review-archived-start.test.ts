// Review: where the archived stream's first pass starts when the object's full load was finished
// by an earlier run that stopped before the archived stream ran (daily limit right after the
// full load's last page). A record staged by the full load and archived since must get its
// tombstone: the first archived pass has to start at the full load's watermark, not "now".
import { expect, it } from 'vitest';
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

const t = useTestDatabase('review_hs_archived_start');
const logger = quietLogger();

it('an incremental run that finished a full load and stopped before its archived pass: the next run tombstones records archived since the load started', async () => {
  const sb = new HubspotSandbox({ seed: 41, counts: { companies: 30, products: 0, deals: 0, invoices: 0 } });
  const url = await sb.listen();
  try {
    const deps = { staging: t.staging, logger };
    const config = hubspotConfig(url, {
      objects: ['companies'],
      listPageSize: 10,
      stageBatchRows: 10,
      overlapMs: 0,
    });
    const key = { tenant: 'arch', system: 'hubspot', stream: 'companies' };
    // Run 0: the full load stops after its first unit (the daily limit on the next page).
    let first = true;
    const r0 = await syncSystem(deps, 'arch', 'hubspot', config, {
      limits: FAST_BACKOFF,
      onUnitStaged: () => {
        if (first) sb.server.respondNext('dailyLimited');
        first = false;
      },
    });
    expect(r0.status).toBe('paused');
    const staged = await stagingSnapshot(t, 'arch', ['companies']);
    const stagedId = Object.keys(staged.customer!)[0]!;
    // While stopped: a record the load had staged is archived.
    sb.archive('companies', stagedId);

    // Run 1 (incremental): finishes the full load, then the daily limit hits its first search.
    const r1 = await syncSystem(deps, 'arch', 'hubspot', config, {
      limits: FAST_BACKOFF,
      mode: 'incremental',
      onUnitStaged: ({ stream, position }) => {
        if (stream === 'companies' && (position as { phase?: string }).phase === 'incremental')
          sb.server.respondNext('dailyLimited');
      },
    });
    expect(r1.status).toBe('paused');
    expect(((await loadCheckpoint(t.staging.pool, key)) as { phase: string }).phase).toBe('incremental');

    await new Promise((r) => setTimeout(r, 20));
    // Run 2, in each mode that reads on from the checkpoint: the archived record is a tombstone.
    const r2 = await syncSystem(deps, 'arch', 'hubspot', config, { limits: FAST_BACKOFF });
    expect(r2.status).toBe('completed');
    expect(await stagingSnapshot(t, 'arch', ['companies'])).toEqual(sandboxSnapshot(sb, ['companies']));
  } finally {
    await sb.close();
  }
});

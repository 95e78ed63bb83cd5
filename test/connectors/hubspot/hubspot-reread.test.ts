// The bounded re-read of a HubSpot system (backfill) against the sandbox: a window of the
// modification stamp (search bounded on both sides, keyset pages by hs_object_id) and a list of
// ids (batch read) each read only that slice — the sandbox counts the records it served — and
// stage it without moving a checkpoint.
import { afterAll, describe, expect, it } from 'vitest';
import { HubspotSandbox } from '../../../pipeline/connectors/hubspot/hubspot-sandbox.js';
import { rereadSystem, syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { listCheckpoints } from '../../../staging/checkpoints.js';
import { useTestDatabase } from '../../support/database.js';
import { FAST_BACKOFF, hubspotConfig, quietLogger } from '../../support/hubspot.js';

const t = useTestDatabase('hsrr');
const BASE = Date.UTC(2024, 0, 1);
const sb = new HubspotSandbox({
  seed: 7,
  counts: { companies: 300, products: 5, deals: 5, invoices: 5 },
  baseTime: BASE,
});
afterAll(() => sb.close());

const deps = () => ({ staging: t.staging, logger: quietLogger() });
let url = '';
const config = () => hubspotConfig(url, { searchPageSize: 40 });
const names = async (ids: readonly string[]) =>
  (
    await t.staging.pool.query(
      `SELECT name FROM staging.customer WHERE tenant_id = 'rr' AND source_id = ANY($1::text[]) ORDER BY source_id::bigint`,
      [ids],
    )
  ).rows.map((r) => r.name as string);

describe('hubspot re-read', () => {
  it('reads only the window or the ids asked for, stages them, moves no checkpoint', async () => {
    url = await sb.listen();
    const opts = { limits: FAST_BACKOFF };
    expect((await syncSystem(deps(), 'rr', 'crm', config(), opts)).status).toBe('completed');
    const before = await listCheckpoints(t.staging.db, 'rr');

    const from = BASE - 30 * 60_000;
    const to = BASE - 10 * 60_000;
    const inWindow = sb.live('companies').filter((r) => r.updatedAt >= from && r.updatedAt < to);
    expect(inWindow.length).toBeGreaterThan(40); // more than one page
    expect(inWindow.length).toBeLessThan(250);
    await t.staging.pool.query(
      `UPDATE staging.customer SET name = 'drifted', version = version - 1 WHERE tenant_id = 'rr' AND source_id = ANY($1::text[])`,
      [inWindow.map((r) => r.id)],
    );
    let served = sb.recordsServed;
    const window = await rereadSystem(
      deps(),
      'rr',
      'crm',
      config(),
      { entity: 'customer', window: { from: new Date(from).toISOString(), to: new Date(to).toISOString() } },
      opts,
    );
    expect(window.status, window.error ?? window.streams[0]?.detail).toBe('completed');
    expect(window.streams.map((s) => s.stream)).toEqual(['companies']);
    expect(sb.recordsServed - served).toBe(inWindow.length);
    expect(window.streams[0]).toMatchObject({ received: inWindow.length, updated: inWindow.length });
    expect(await names(inWindow.map((r) => r.id))).not.toContain('drifted');

    const ids = sb
      .live('companies')
      .slice(0, 3)
      .map((r) => r.id);
    await t.staging.pool.query(
      `UPDATE staging.customer SET name = 'drifted', version = version - 1 WHERE tenant_id = 'rr' AND source_id = ANY($1::text[])`,
      [ids],
    );
    served = sb.recordsServed;
    const byIds = await rereadSystem(
      deps(),
      'rr',
      'crm',
      config(),
      { entity: 'customer', ids: [...ids, '99999999'] },
      opts,
    );
    expect(byIds.status, byIds.error ?? byIds.streams[0]?.detail).toBe('completed');
    expect(sb.recordsServed - served).toBe(3);
    expect(byIds.streams[0]).toMatchObject({
      received: 3,
      updated: 3,
      detail: expect.stringMatching(/1 id\(s\) are no live companies record/),
    });
    expect(await names(ids)).not.toContain('drifted');
    expect(await listCheckpoints(t.staging.db, 'rr')).toEqual(before);
  }, 60_000);
});

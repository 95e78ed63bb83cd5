// The bounded re-read of a NetSuite system (backfill) against the sandbox, whose integration user
// is on another time zone: a lastmodifieddate window and `id IN (…)` each read only that slice
// (the sandbox counts rows served per table), stage it and move no checkpoint.
import { afterAll, describe, expect, it } from 'vitest';
import { NetsuiteSandbox } from '../../../pipeline/connectors/netsuite/netsuite-sandbox.js';
import { rereadSystem, syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import { listCheckpoints } from '../../../staging/checkpoints.js';
import { useTestDatabase } from '../../support/database.js';
import { FAST_BACKOFF, netsuiteConfig } from '../../support/netsuite.js';

const t = useTestDatabase('nsrr');
const sb = new NetsuiteSandbox({
  seed: 9,
  counts: { customer: 120, item: 10, salesorder: 10, invoice: 10, payment: 5 },
  tokens: ['ns-token'],
  timeZone: 'Asia/Kolkata',
});
afterAll(() => sb.close());
const deps = () => ({ staging: t.staging, logger: createLogger({ level: 'silent' }) });
const served = () => sb.servedByTable.get('customer') ?? 0;
const staged = async (ids: readonly number[]) =>
  (
    await t.staging.pool.query(
      `SELECT name FROM staging.customer WHERE tenant_id = 'rr' AND source_id = ANY($1::text[]) ORDER BY source_id::int`,
      [ids.map(String)],
    )
  ).rows.map((r) => r.name as string);

describe('netsuite re-read', () => {
  it('reads only the window or the ids asked for, stages them, moves no checkpoint', async () => {
    const url = await sb.listen();
    const config = netsuiteConfig(url, { pageSize: 2, deletes: false });
    expect((await syncSystem(deps(), 'rr', 'ns', config, { limits: FAST_BACKOFF })).status).toBe('completed');
    const before = await listCheckpoints(t.staging.db, 'rr');

    // Three customers changed at one whole second T, others not.
    const T = Math.floor(Date.now() / 1000) * 1000 + 3_600_000;
    const ids = [...sb.table('customer').keys()].slice(5, 8);
    for (const id of ids) sb.update('customer', id, { companyname: `Changed ${id}` }, T);
    let n = served();
    const window = await rereadSystem(
      deps(),
      'rr',
      'ns',
      config,
      {
        entity: 'customer',
        window: { from: new Date(T).toISOString(), to: new Date(T + 1000).toISOString() },
      },
      { limits: FAST_BACKOFF },
    );
    expect(window.status, window.error ?? window.streams[0]?.detail).toBe('completed');
    expect(window.streams.map((s) => s.stream)).toEqual(['customer']);
    expect(served() - n).toBe(3);
    expect(window.streams[0]).toMatchObject({ received: 3, updated: 3 });
    expect(await staged(ids)).toEqual(ids.map((id) => `Changed ${id}`));

    const two = [...sb.table('customer').keys()].slice(20, 22);
    await t.staging.pool.query(
      `UPDATE staging.customer SET name = 'drifted', version = version - 1 WHERE tenant_id = 'rr' AND source_id = ANY($1::text[])`,
      [two.map(String)],
    );
    n = served();
    const byIds = await rereadSystem(
      deps(),
      'rr',
      'ns',
      config,
      { entity: 'customer', ids: two.map(String) },
      { limits: FAST_BACKOFF },
    );
    expect(byIds.status, byIds.error ?? byIds.streams[0]?.detail).toBe('completed');
    expect(served() - n).toBe(2);
    expect(byIds.streams[0]).toMatchObject({ received: 2, updated: 2 });
    expect(await staged(two)).not.toContain('drifted');
    expect(await listCheckpoints(t.staging.db, 'rr')).toEqual(before);

    const bad = await rereadSystem(deps(), 'rr', 'ns', config, { entity: 'customer', ids: ['1) OR (1=1'] });
    expect(bad).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/is not a NetSuite internal id/),
    });
  }, 60_000);
});

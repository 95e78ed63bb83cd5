// The NetSuite re-read (backfill) also re-reads deletes from deletedrecord: records deleted within
// the window become tombstones, and of given ids that are no live record only those deletedrecord
// lists do — an id that is simply absent stays as staged. The sandbox counts rows served per table.
import { afterAll, describe, expect, it } from 'vitest';
import { NetsuiteSandbox } from '../../../pipeline/connectors/netsuite/netsuite-sandbox.js';
import { rereadSystem, syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import { listCheckpoints } from '../../../staging/checkpoints.js';
import { useTestDatabase } from '../../support/database.js';
import { FAST_BACKOFF, netsuiteConfig } from '../../support/netsuite.js';

const t = useTestDatabase('nsrrdel');
const sb = new NetsuiteSandbox({
  seed: 13,
  counts: { customer: 40, item: 4, salesorder: 4, invoice: 4, payment: 2 },
  tokens: ['ns-token'],
  timeZone: 'Asia/Kolkata',
});
afterAll(() => sb.close());
const deps = () => ({ staging: t.staging, logger: createLogger({ level: 'silent' }) });
const opts = { limits: FAST_BACKOFF };
const servedDeleted = () => sb.servedByTable.get('deletedrecord') ?? 0;
const live = async (ids: readonly number[]) =>
  (
    await t.staging.pool.query(
      `SELECT source_id FROM staging.customer WHERE tenant_id = 'rd' AND deleted_at IS NULL
          AND source_id = ANY($1::text[]) ORDER BY source_id::int`,
      [ids.map(String)],
    )
  ).rows.map((r) => Number(r.source_id));

describe('netsuite re-read of deletes', () => {
  it('tombstones records deleted in the window, and given ids only when deletedrecord lists them', async () => {
    const url = await sb.listen();
    // The delete stream is left out of the sync: deletes reach staging only through the re-read.
    const syncConfig = netsuiteConfig(url, { pageSize: 5, deletes: false });
    const config = netsuiteConfig(url, { pageSize: 5 });
    expect((await syncSystem(deps(), 'rd', 'ns', syncConfig, opts)).status).toBe('completed');
    const before = await listCheckpoints(t.staging.db, 'rd');
    const ids = [...sb.table('customer').keys()].slice(0, 6);
    expect(await live(ids)).toEqual(ids);
    const item = [...sb.table('item').keys()][0]!;

    const T = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
    sb.remove('customer', ids[0]!, T);
    sb.remove('customer', ids[1]!, T + 1_000);
    sb.remove('customer', ids[2]!, T + 10 * 60_000); // after the window below
    sb.remove('item', item, T + 2_000); // another stream's type, in the window

    let n = servedDeleted();
    const window = await rereadSystem(
      deps(),
      'rd',
      'ns',
      config,
      {
        entity: 'customer',
        window: { from: new Date(T - 60_000).toISOString(), to: new Date(T + 5 * 60_000).toISOString() },
      },
      opts,
    );
    expect(window.status, window.error ?? window.streams[0]?.detail).toBe('completed');
    expect(window.streams.map((s) => s.stream)).toEqual(['customer']);
    expect(window.streams[0]).toMatchObject({ deleted: 2 });
    expect(window.streams[0]!.detail).toMatch(/2 record\(s\) deleted in the window: tombstoned/);
    // Only the deletes of the window are served (the item's among them, skipped by type).
    expect(servedDeleted() - n).toBe(3);
    expect(await live(ids)).toEqual(ids.slice(2));

    // By ids: ids[2] deleted (tombstoned), ids[3] live, 999999 unknown to NetSuite.
    n = servedDeleted();
    const byIds = await rereadSystem(
      deps(),
      'rd',
      'ns',
      config,
      { entity: 'customer', ids: [String(ids[2]), String(ids[3]), '999999'] },
      opts,
    );
    expect(byIds.status, byIds.error ?? byIds.streams[0]?.detail).toBe('completed');
    expect(byIds.streams[0]).toMatchObject({ received: 2, deleted: 1 });
    expect(byIds.streams[0]!.detail).toMatch(
      /1 id\(s\) in deletedrecord: tombstoned; 1 id\(s\) neither live nor in deletedrecord: left as staged/,
    );
    expect(servedDeleted() - n).toBe(1);
    expect(await live(ids)).toEqual(ids.slice(3));

    // Absent at the source without a deletedrecord row: stays live.
    await t.staging.pool.query(
      `INSERT INTO staging.customer (tenant_id, system, source_id, name, raw, version, staged_seq)
       VALUES ('rd', 'ns', '888888', 'ghost', '{}', 1, nextval('staging.staged_seq'))`,
    );
    const ghost = await rereadSystem(
      deps(),
      'rd',
      'ns',
      config,
      { entity: 'customer', ids: ['888888'] },
      opts,
    );
    expect(ghost.streams[0]).toMatchObject({ deleted: 0 });
    expect(await live([888888])).toEqual([888888]);
    // With deletes: false the feed is not read at all.
    n = servedDeleted();
    await rereadSystem(deps(), 'rd', 'ns', syncConfig, { entity: 'customer', ids: [String(ids[2])] }, opts);
    expect(servedDeleted() - n).toBe(0);
    expect(await listCheckpoints(t.staging.db, 'rd')).toEqual(before);
  }, 60_000);
});

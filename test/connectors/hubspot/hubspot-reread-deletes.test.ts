// The HubSpot re-read (backfill) also re-reads deletes: records archived within the window become
// tombstones, and of given ids that are no live record only those HubSpot lists as archived do —
// an id that is simply absent stays as staged. The sandbox counts the records it served.
import { afterAll, describe, expect, it } from 'vitest';
import { HubspotSandbox } from '../../../pipeline/connectors/hubspot/hubspot-sandbox.js';
import { rereadSystem, syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { listCheckpoints } from '../../../staging/checkpoints.js';
import { useTestDatabase } from '../../support/database.js';
import { FAST_BACKOFF, hubspotConfig, quietLogger } from '../../support/hubspot.js';

const t = useTestDatabase('hsrrdel');
const BASE = Date.UTC(2024, 0, 1);
const sb = new HubspotSandbox({
  seed: 11,
  counts: { companies: 60, products: 2, deals: 2, invoices: 2 },
  baseTime: BASE,
});
afterAll(() => sb.close());

const deps = () => ({ staging: t.staging, logger: quietLogger() });
const opts = { limits: FAST_BACKOFF };
let url = '';
const config = () => hubspotConfig(url, { objects: ['companies'], listPageSize: 10 });
const live = async (ids: readonly string[]) =>
  (
    await t.staging.pool.query(
      `SELECT source_id FROM staging.customer WHERE tenant_id = 'rd' AND deleted_at IS NULL
          AND source_id = ANY($1::text[]) ORDER BY source_id::bigint`,
      [ids],
    )
  ).rows.map((r) => r.source_id as string);

describe('hubspot re-read of deletes', () => {
  it('tombstones records archived in the window, and given ids only when HubSpot lists them archived', async () => {
    url = await sb.listen();
    expect((await syncSystem(deps(), 'rd', 'crm', config(), opts)).status).toBe('completed');
    const before = await listCheckpoints(t.staging.db, 'rd');
    const ids = sb
      .live('companies')
      .slice(0, 6)
      .map((r) => r.id);
    expect(await live(ids)).toEqual(ids);
    // An incident: three records archived at the source while the archived stream did not run.
    const T = Date.now() - 3_600_000;
    sb.archive('companies', ids[0]!, T);
    sb.archive('companies', ids[1]!, T + 1_000);
    sb.archive('companies', ids[2]!, T + 10 * 60_000); // after the window below

    let served = sb.recordsServed;
    const window = await rereadSystem(
      deps(),
      'rd',
      'crm',
      config(),
      {
        entity: 'customer',
        window: { from: new Date(T - 60_000).toISOString(), to: new Date(T + 5 * 60_000).toISOString() },
      },
      opts,
    );
    expect(window.status, window.error ?? window.streams[0]?.detail).toBe('completed');
    expect(window.streams[0]).toMatchObject({ deleted: 2 });
    expect(window.streams[0]!.detail).toMatch(/2 record\(s\) archived in the window: tombstoned/);
    // The window's live records (none modified in it) plus the archived list: three archived records.
    expect(sb.recordsServed - served).toBe(3);
    expect(await live(ids)).toEqual(ids.slice(2));

    // By ids: ids[2] archived (confirmed: tombstoned), ids[3] live, one id HubSpot does not know.
    served = sb.recordsServed;
    const byIds = await rereadSystem(
      deps(),
      'rd',
      'crm',
      config(),
      { entity: 'customer', ids: [ids[2]!, ids[3]!, '99999999'] },
      opts,
    );
    expect(byIds.status, byIds.error ?? byIds.streams[0]?.detail).toBe('completed');
    expect(byIds.streams[0]).toMatchObject({ received: 2, deleted: 1 });
    expect(byIds.streams[0]!.detail).toMatch(/1 id\(s\) archived: tombstoned/);
    expect(byIds.streams[0]!.detail).toMatch(/1 id\(s\) are no live companies record and not archived/);
    // One live record by batch read, three archived ones from the list.
    expect(sb.recordsServed - served).toBe(4);
    expect(await live(ids)).toEqual(ids.slice(3));
    // A staged record absent at the source without HubSpot saying it was archived stays live.
    await t.staging.pool.query(
      `INSERT INTO staging.customer (tenant_id, system, source_id, name, raw, version, staged_seq)
       VALUES ('rd', 'crm', '88888888', 'ghost', '{}', 1, nextval('staging.staged_seq'))`,
    );
    const ghost = await rereadSystem(
      deps(),
      'rd',
      'crm',
      config(),
      { entity: 'customer', ids: ['88888888'] },
      opts,
    );
    expect(ghost.streams[0]).toMatchObject({ deleted: 0 });
    expect(await live(['88888888'])).toEqual(['88888888']);
    expect(await listCheckpoints(t.staging.db, 'rd')).toEqual(before);
  }, 60_000);
});

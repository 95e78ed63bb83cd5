// The bounded re-read of a Salesforce system (backfill) against the sandbox: a SystemModstamp
// window and a list of ids each read only that slice (the sandbox counts the records it served),
// stage what changed (a delete as a tombstone) and move no checkpoint.
import { afterAll, describe, expect, it } from 'vitest';
import { idQueries, SOQL_MAX_LENGTH } from '../../../pipeline/connectors/salesforce/reread.js';
import type { SalesforceSandbox } from '../../../pipeline/connectors/salesforce/sandbox.js';
import { rereadSystem, syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { listCheckpoints } from '../../../staging/checkpoints.js';
import { useTestDatabase } from '../../support/database.js';
import {
  FAST_BULK,
  FAST_LIMITS,
  quietLogger,
  staged,
  startSandbox,
  systemConfig,
} from '../../support/salesforce.js';

const t = useTestDatabase('sfrr');
let s: SalesforceSandbox;
afterAll(async () => {
  await s?.close();
});

const deps = () => ({ staging: t.staging, logger: quietLogger });
const config = () => systemConfig(s, { bulk: { ...FAST_BULK, maxRecords: 100, batchSize: 60 } });

describe('salesforce re-read', () => {
  it('reads only the window or the ids asked for, stages them, moves no checkpoint', async () => {
    s = await startSandbox({ seed: 5 });
    expect((await syncSystem(deps(), 'rr', 'crm', config(), { limits: FAST_LIMITS })).status).toBe(
      'completed',
    );
    const before = await listCheckpoints(t.staging.db, 'rr');

    // Changes after the load, inside a window that starts on a whole second (SOQL's precision).
    const from = Math.floor(Date.now() / 1000) * 1000 + 1000;
    await new Promise((r) => setTimeout(r, from - Date.now() + 5));
    const accounts = [...s.rows('Account')];
    const [a, b, c] = [accounts[3]!, accounts[7]!, accounts[11]!];
    s.update('Account', a.Id!, { Name: 'Renamed in the window' });
    s.update('Account', b.Id!, { Name: 'Also renamed' });
    s.delete('Account', c.Id!);
    const to = Math.ceil((Date.now() + 1) / 1000) * 1000;
    const inWindow = [...s.rows('Account', { includeDeleted: true })].filter((r) => {
      const ms = Date.parse(r.SystemModstamp!);
      return ms >= from && ms < to;
    });
    expect(inWindow.length).toBe(3);

    let served = s.recordsServed;
    const window = await rereadSystem(
      deps(),
      'rr',
      'crm',
      config(),
      { entity: 'customer', window: { from: new Date(from).toISOString(), to: new Date(to).toISOString() } },
      { limits: FAST_LIMITS },
    );
    expect(window.status, window.error ?? window.streams[0]?.detail).toBe('completed');
    expect(window.streams.map((x) => x.stream)).toEqual(['Account']);
    expect(s.recordsServed - served).toBe(3);
    expect(window.streams[0]).toMatchObject({ received: 3, deleted: 1 });
    let rows = await staged(t.staging, 'rr', 'customer');
    expect(rows.get(a.Id!)?.name).toBe('Renamed in the window');
    expect(rows.get(c.Id!)?.deleted).toBe(true);

    // By ids: drifted staging rows come back; only those records are served.
    const ids = [accounts[20]!.Id!, accounts[21]!.Id!];
    await t.staging.pool.query(
      `UPDATE staging.customer SET name = 'drifted', version = version - 1
        WHERE tenant_id = 'rr' AND system = 'crm' AND source_id = ANY($1::text[])`,
      [ids],
    );
    served = s.recordsServed;
    const byIds = await rereadSystem(
      deps(),
      'rr',
      'crm',
      config(),
      { entity: 'customer', ids },
      { limits: FAST_LIMITS },
    );
    expect(byIds.status, byIds.error ?? byIds.streams[0]?.detail).toBe('completed');
    expect(s.recordsServed - served).toBe(2);
    expect(byIds.streams[0]).toMatchObject({ received: 2, updated: 2 });
    rows = await staged(t.staging, 'rr', 'customer');
    expect(ids.map((id) => rows.get(id)?.name)).toEqual([accounts[20]!.Name, accounts[21]!.Name]);
    expect(await listCheckpoints(t.staging.db, 'rr')).toEqual(before);

    const bad = await rereadSystem(deps(), 'rr', 'crm', config(), {
      entity: 'customer',
      ids: ["x' OR Name != '"],
    });
    expect(bad).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/is not a Salesforce record id/),
    });
  }, 60_000);

  it('splits long id lists into statements within the SOQL length limit', () => {
    const ids = Array.from({ length: 12_000 }, (_v, i) => `001${String(i).padStart(15, '0')}`);
    const queries = idQueries(['Id', 'Name'], 'Account', ids);
    expect(queries.length).toBeGreaterThan(1);
    for (const q of queries) expect(q.length).toBeLessThanOrEqual(SOQL_MAX_LENGTH);
    const listed = queries.flatMap((q) => [...q.matchAll(/'(\w+)'/g)].map((m) => m[1]));
    expect(listed).toEqual(ids);
  });
});

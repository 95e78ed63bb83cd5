// A mapping that names one partition of a partitioned table. Under a publication with
// publish_via_partition_root, pgoutput reports the partition's changes under the topmost
// published ancestor, so such a mapping would receive nothing from the stream while the snapshot
// staged its rows: refused at startup (before snapshot and stream alike), naming the root to map
// instead. Where the partition's changes do arrive under its own name, the mapping works.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../support/database.js';
import { syncOnce, systemConfig, useSourceDatabase } from '../../support/postgres.js';

const staging = useTestDatabase('cdcpart');
const src = useSourceDatabase();

async function live(system: string, entity: 'customer' | 'order' = 'customer') {
  const res = await staging.staging.pool.query(
    `SELECT source_id FROM staging.${entity} WHERE tenant_id = 'acme' AND system = $1 AND deleted_at IS NULL ORDER BY 1`,
    [system],
  );
  return res.rows.map((r) => r.source_id as string);
}
async function partitioned(table: string) {
  await src.pool.query(
    `CREATE TABLE ${table} (id int, region int, name text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
     CREATE TABLE ${table}_1 PARTITION OF ${table} FOR VALUES IN (1);
     CREATE TABLE ${table}_2 PARTITION OF ${table} FOR VALUES IN (2);
     INSERT INTO ${table} VALUES (1, 1, 'a'), (2, 2, 'b')`,
  );
}
const partition = (table: string) => ({
  table,
  entity: 'customer',
  key: ['id', 'region'],
  fields: { name: 'name' },
});
async function slotExists(slot: string) {
  const res = await src.pool.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  return res.rows.length > 0;
}

describe('postgres CDC: a mapped partition of a partitioned table', () => {
  it('is refused when an existing publication publishes via the root (FOR ALL TABLES): nothing is snapshotted', async () => {
    await partitioned('pa');
    await src.pool.query(`CREATE PUBLICATION q_pa FOR ALL TABLES WITH (publish_via_partition_root = true)`);
    const c = systemConfig(src.url, { slot: 'q_pa', publication: 'q_pa', tables: [partition('pa_1')] });
    const out = await syncOnce(staging.staging, c, { system: 'pa' });
    expect(out.outcome).toBe('failed');
    expect(out.error?.message).toMatch(
      /^tenant acme, system pa: table public\.pa_1 is a partition of public\.pa, and publication "q_pa" publishes via the partition root/,
    );
    expect(out.error?.message).toMatch(/Map the root table public\.pa instead/);
    expect(out.error?.message).toMatch(/`filter`.*LIST \(region\).*FOR VALUES IN \(1\)/);
    expect(await live('pa')).toEqual([]);
    expect(await slotExists('q_pa')).toBe(false);
    // What the message says to do: map the root, filtered to the partition's rows.
    const root = systemConfig(src.url, {
      slot: 'q_pa',
      publication: 'q_pa',
      tables: [{ ...partition('pa'), filter: 'region = 1' }],
    });
    expect((await syncOnce(staging.staging, root, { system: 'pa' })).error?.message).toBeUndefined();
    expect(await live('pa')).toEqual(['["1","1"]']);
    await src.pool.query(`INSERT INTO pa VALUES (3, 1, 'c'), (4, 2, 'd'); DELETE FROM pa WHERE id = 1`);
    expect((await syncOnce(staging.staging, root, { system: 'pa' })).outcome).toBe('caught_up');
    expect(await live('pa')).toEqual(['["3","1"]']);
  });

  it('is refused when the config also maps its root (trueup publication): the root would take its changes', async () => {
    await partitioned('pb');
    const c = systemConfig(src.url, {
      slot: 'q_pb',
      publication: 'q_pb',
      tables: [
        { table: 'pb', entity: 'order', key: ['id', 'region'], fields: { number: 'name' } },
        partition('pb_2'),
      ],
    });
    const out = await syncOnce(staging.staging, c, { system: 'pb' });
    expect(out.outcome).toBe('failed');
    expect(out.error?.message).toMatch(
      /tenant acme, system pb: table public\.pb_2 is a partition of public\.pb.*Map the root table public\.pb instead/,
    );
    expect(await live('pb', 'order')).toEqual([]);
    expect(await live('pb')).toEqual([]);
    expect(await slotExists('q_pb')).toBe(false);
  });

  it('works when its changes arrive under its own name: snapshot and stream agree', async () => {
    // trueup's own publication lists only the partition (no ancestor published).
    await partitioned('pc');
    const c = systemConfig(src.url, { slot: 'q_pc', publication: 'q_pc', tables: [partition('pc_1')] });
    const first = await syncOnce(staging.staging, c, { system: 'pc' });
    expect(first.error?.message).toBeUndefined();
    expect(await live('pc')).toEqual(['["1","1"]']);
    await src.pool.query(
      `INSERT INTO pc VALUES (3, 1, 'c'), (4, 2, 'd'); UPDATE pc SET name = 'a2' WHERE id = 1; DELETE FROM pc WHERE id = 2`,
    );
    expect((await syncOnce(staging.staging, c, { system: 'pc' })).outcome).toBe('caught_up');
    expect(await live('pc')).toEqual(['["1","1"]', '["3","1"]']);
  });

  it('works under an existing publication without publish_via_partition_root', async () => {
    await partitioned('pd');
    await src.pool.query(`CREATE PUBLICATION q_pd FOR ALL TABLES`);
    const c = systemConfig(src.url, { slot: 'q_pd', publication: 'q_pd', tables: [partition('pd_2')] });
    expect((await syncOnce(staging.staging, c, { system: 'pd' })).error?.message).toBeUndefined();
    expect(await live('pd')).toEqual(['["2","2"]']);
    await src.pool.query(`INSERT INTO pd VALUES (5, 2, 'e')`);
    expect((await syncOnce(staging.staging, c, { system: 'pd' })).outcome).toBe('caught_up');
    expect(await live('pd')).toEqual(['["2","2"]', '["5","2"]']);
  });
});

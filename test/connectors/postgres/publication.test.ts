// The publication trueup streams through: partitioned source tables (publish_via_partition_root)
// and existing publications that would lose changes, refused at startup with what to run.
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../support/database.js';
import { syncOnce, systemConfig, useSourceDatabase } from '../../support/postgres.js';

const staging = useTestDatabase('cdcpub');
const src = useSourceDatabase();

async function live(system: string) {
  const res = await staging.staging.pool.query(
    `SELECT source_id, name FROM staging.customer WHERE tenant_id = 'acme' AND system = $1 AND deleted_at IS NULL ORDER BY 1`,
    [system],
  );
  return res.rows.map((r) => `${r.source_id}:${r.name}`);
}
const config = (table: string, name: string) =>
  systemConfig(src.url, {
    slot: name,
    publication: name,
    tables: [{ table, entity: 'customer', key: ['id'], fields: { name: 'name' } }],
  });
async function partitioned(table: string) {
  await src.pool.query(
    `CREATE TABLE ${table} (id int, region int, name text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
     CREATE TABLE ${table}_1 PARTITION OF ${table} FOR VALUES IN (1);
     CREATE TABLE ${table}_2 PARTITION OF ${table} FOR VALUES IN (2)`,
  );
}

describe('publication', () => {
  it('a partitioned source table: snapshot, inserts, updates across partitions, deletes and TRUNCATE are staged', async () => {
    await partitioned('parted');
    await src.pool.query(`INSERT INTO parted VALUES (1, 1, 'a'), (3, 2, 'c')`);
    const c = config('parted', 'p_parted');
    const first = await syncOnce(staging.staging, c, { system: 'parted' });
    expect(first.error?.message).toBeUndefined();
    expect(await live('parted')).toEqual(['1:a', '3:c']);
    await src.pool.query(
      `INSERT INTO parted VALUES (2, 2, 'b'); UPDATE parted SET name = 'a2', region = 2 WHERE id = 1`,
    );
    await src.pool.query(`DELETE FROM parted WHERE id = 3`);
    expect((await syncOnce(staging.staging, c, { system: 'parted' })).outcome).toBe('caught_up');
    expect(await live('parted')).toEqual(['1:a2', '2:b']);
    // A restart finds the publication as it made it.
    await src.pool.query(`BEGIN; TRUNCATE parted; INSERT INTO parted VALUES (5, 1, 'e'); COMMIT`);
    expect((await syncOnce(staging.staging, c, { system: 'parted' })).outcome).toBe('caught_up');
    expect(await live('parted')).toEqual(['5:e']);
  });

  it('an existing publication without publish_via_partition_root is refused for a partitioned table, then accepted once altered', async () => {
    await partitioned('parted2');
    await src.pool.query(`CREATE PUBLICATION p_parted2 FOR ALL TABLES`);
    await src.pool.query(`INSERT INTO parted2 VALUES (1, 1, 'a')`);
    const c = config('parted2', 'p_parted2');
    const refused = await syncOnce(staging.staging, c, { system: 'parted2' });
    expect(refused.outcome).toBe('failed');
    expect(refused.error?.message).toMatch(
      /tenant acme, system parted2: publication "p_parted2" lacks publish_via_partition_root.*public\.parted2.*ALTER PUBLICATION "p_parted2" SET \(publish_via_partition_root = true\)/,
    );
    await src.pool.query(`ALTER PUBLICATION "p_parted2" SET (publish_via_partition_root = true)`);
    expect((await syncOnce(staging.staging, c, { system: 'parted2' })).error?.message).toBeUndefined();
    await src.pool.query(
      `INSERT INTO parted2 VALUES (2, 2, 'b'); UPDATE parted2 SET name = 'a2' WHERE id = 1`,
    );
    expect((await syncOnce(staging.staging, c, { system: 'parted2' })).outcome).toBe('caught_up');
    expect(await live('parted2')).toEqual(['1:a2', '2:b']);
  });

  it('an existing publication listing a partitioned table through its partitions is refused, not "already member"', async () => {
    await partitioned('parted3');
    await src.pool.query(`CREATE PUBLICATION p_parted3 FOR TABLE parted3`);
    const out = await syncOnce(staging.staging, config('parted3', 'p_parted3'), { system: 'parted3' });
    expect(out.outcome).toBe('failed');
    expect(out.error?.message).toMatch(/publication "p_parted3" lacks publish_via_partition_root/);
    await src.pool.query(`ALTER PUBLICATION p_parted3 SET (publish_via_partition_root = true)`);
    await src.pool.query(`INSERT INTO parted3 VALUES (1, 2, 'a')`);
    expect(
      (await syncOnce(staging.staging, config('parted3', 'p_parted3'), { system: 'parted3' })).error,
    ).toBeUndefined();
    expect(await live('parted3')).toEqual(['1:a']);
  });

  it('an existing publication that does not publish deletes or truncates is refused at startup', async () => {
    await src.pool.query(`CREATE TABLE nodel (id int PRIMARY KEY, name text)`);
    await src.pool.query(`CREATE PUBLICATION p_nodel FOR TABLE nodel WITH (publish = 'insert, update')`);
    const out = await syncOnce(staging.staging, config('nodel', 'p_nodel'), { system: 'nodel' });
    expect(out.outcome).toBe('failed');
    expect(out.error?.message).toMatch(
      /tenant acme, system nodel: publication "p_nodel" does not publish delete, truncate.*ALTER PUBLICATION "p_nodel" SET \(publish = 'insert, update, delete, truncate'\)/,
    );
  });
});

// Issue 18 on Postgres CDC: a bad table mapping dead-letters rows (from the snapshot and from the
// stream) with the source row inside the refused change; the mapping is fixed and the replay maps
// the stored rows again offline, with their own versions, and a reconcile sees them. `remap`
// re-applies a changed mapping to staged rows; fields mapped by a SQL expression keep their staged
// values there, and a dead letter of such a mapping is staged as it was stored.
import { describe, expect, it } from 'vitest';
import type { PostgresSystemConfig } from '../../../pipeline/connectors/postgres/config.js';
import { tenantRemappers } from '../../../pipeline/connectors/remap.js';
import { listDeadLetters } from '../../../staging/control/dead-letters.js';
import { replayDeadLetters } from '../../../staging/control/replay-dead-letters.js';
import { remapEntity } from '../../../staging/remap.js';
import { csvTenantConfig, dataDir, openKeys, reconcile, stageRows } from '../../reconcilers/helpers.js';
import { useTestDatabase } from '../../support/database.js';
import { syncOnce, systemConfig, useSourceDatabase } from '../../support/postgres.js';

const staging = useTestDatabase('pgremap');
const src = useSourceDatabase();

function config(fields: Record<string, unknown>, valueMaps: Record<string, Record<string, string>> = {}) {
  return systemConfig(src.url, {
    slot: 'remap_slot',
    publication: 'remap_pub',
    tables: [{ table: 'cust', entity: 'customer', key: ['id'], fields, valueMaps }],
  });
}
const replay = (c: PostgresSystemConfig) =>
  replayDeadLetters(
    staging.staging,
    { tenant: 'acme' },
    { remappers: tenantRemappers('acme', { erp: c }, {}) },
  );
async function staged(): Promise<
  Record<string, { name: string | null; limit: string | null; version: string }>
> {
  const { rows } = await staging.staging.pool.query<{
    source_id: string;
    name: string | null;
    credit_limit: string | null;
    version: string;
  }>(
    `SELECT source_id, name, credit_limit::text, version::text FROM staging.customer
      WHERE tenant_id = 'acme' AND system = 'erp' AND deleted_at IS NULL ORDER BY source_id`,
  );
  return Object.fromEntries(
    rows.map((r) => [r.source_id, { name: r.name, limit: r.credit_limit, version: r.version }]),
  );
}

describe('postgres: replay and remap with the current mapping', () => {
  it('a bad mapping dead-letters rows; fixed, the replay stages them with their versions; reconcile sees them', async () => {
    await src.pool.query(
      `CREATE TABLE cust (id int PRIMARY KEY, name text, lim text, limit2 numeric);
       INSERT INTO cust SELECT i, 'Customer ' || i, CASE WHEN i % 10 < 3 THEN 'n/a' ELSE (i * 100)::text END, i * 100
         FROM generate_series(1, 10) i`,
    );
    const bad = config({ name: 'name', credit_limit: 'lim' });
    expect((await syncOnce(staging.staging, bad)).outcome).toBe('caught_up');
    // Streamed after the snapshot: one more bad row.
    await src.pool.query(
      `INSERT INTO cust VALUES (11, 'Customer 11', 'n/a', 1100), (12, 'Customer 12', '1200', 1200)`,
    );
    expect((await syncOnce(staging.staging, bad)).outcome).toBe('caught_up');
    const letters = await listDeadLetters(staging.staging.db, { tenant: 'acme' });
    expect(letters.map((l) => l.sourceId).sort()).toEqual(['1', '10', '11', '2']);
    const before = await staged();
    expect(Object.keys(before)).toHaveLength(8);

    // The other side has all twelve: reconcile calls the four unverifiable, not missing.
    const dir = await dataDir();
    const cfg = csvTenantConfig('acme');
    await stageRows(
      staging,
      'acme',
      'crm',
      'customer',
      Array.from({ length: 12 }, (_v, n) => ({
        id: `C${n + 1}`,
        name: `Customer ${n + 1}`,
        erp_ref: String(n + 1),
        credit_limit: String((n + 1) * 100),
      })),
    );
    await reconcile(staging, dir, 'acme', cfg, { mode: 'full', entities: ['customer'] });
    let keys = await openKeys(staging, 'acme');
    expect(keys.filter((k) => / unverifiable /.test(k))).toHaveLength(4);
    expect(keys.filter((k) => / missing_in_/.test(k))).toEqual([]);

    // Replayed with the mapping still bad: still failing, with today's reason.
    let res = await replay(bad);
    expect(res.replayed).toEqual([]);
    expect(res.failed[0]!.message).toMatch(/^still invalid: customer "\d+": credit_limit/);

    const fixed = config({ name: 'name', credit_limit: 'limit2' });
    res = await replay(fixed);
    expect(res.failed).toEqual([]);
    expect(res.replayed).toHaveLength(4);
    expect(res.remapped).toBe(4);
    const after = await staged();
    expect(after['1']).toEqual({ name: 'Customer 1', limit: '100', version: letterVersion(letters, '1') });
    expect(after['11']).toEqual({
      name: 'Customer 11',
      limit: '1100',
      version: letterVersion(letters, '11'),
    });
    // Staged rows were not touched.
    for (const [id, row] of Object.entries(before)) expect(after[id]).toEqual(row);

    await reconcile(staging, dir, 'acme', cfg, { mode: 'incremental', entities: ['customer'] });
    keys = await openKeys(staging, 'acme');
    expect(keys.filter((k) => / unverifiable /.test(k))).toEqual([]);
    expect(keys.filter((k) => / missing_in_/.test(k))).toEqual([]);
  });

  it('remap re-applies a changed mapping; SQL-expression fields keep their staged values', async () => {
    const seq = async () =>
      (
        await staging.staging.pool.query<{ s: string }>(
          `SELECT max(staged_seq)::text AS s FROM staging.customer`,
        )
      ).rows[0]!.s;
    const s0 = await seq();
    const mapped = config({ name: 'name', credit_limit: 'limit2' }, { name: { 'Customer 5': 'Five GmbH' } });
    const remap = tenantRemappers('acme', { erp: mapped }, {})('erp', 'customer')!;
    let res = await remapEntity(staging.staging.pool, {
      tenant: 'acme',
      system: 'erp',
      entity: 'customer',
      mappingVersion: 1,
      remap,
      all: true,
      chunkSize: 5,
    });
    expect(res).toEqual({ scanned: 12, updated: 1, deadLettered: 0 });
    expect((await staged())['5']!.name).toBe('Five GmbH');
    const { rows } = await staging.staging.pool.query(
      `SELECT source_id FROM staging.customer WHERE tenant_id = 'acme' AND staged_seq > $1`,
      [s0],
    );
    expect(rows).toEqual([{ source_id: '5' }]);

    // name by SQL expression: not evaluable offline; the staged name stays, the limit is re-mapped.
    const withSql = config({ name: { sql: 'upper(t.name)' }, credit_limit: 'lim' });
    res = await remapEntity(staging.staging.pool, {
      tenant: 'acme',
      system: 'erp',
      entity: 'customer',
      mappingVersion: 1,
      remap: tenantRemappers('acme', { erp: withSql }, {})('erp', 'customer')!,
      all: true,
    });
    // Rows 1, 2, 10 and 11 have lim 'n/a': dead-lettered, their staged values kept.
    expect(res).toEqual({ scanned: 12, updated: 0, deadLettered: 4 });
    expect((await staged())['5']!.name).toBe('Five GmbH');

    // A re-mapping's letter stands for a staged row: fixed, its replay maps it again offline, the
    // SQL field keeping its staged value.
    const fixedSql = config({ name: { sql: 'upper(t.name)' }, credit_limit: 'limit2' });
    const again = await replayDeadLetters(
      staging.staging,
      { tenant: 'acme' },
      { remappers: tenantRemappers('acme', { erp: fixedSql }, {}) },
    );
    expect(again.failed).toEqual([]);
    expect(again.replayed).toHaveLength(4);
    expect((await staged())['1']).toMatchObject({ name: 'Customer 1', limit: '100' });
  });
  it("capture stamps the entity's mappingVersion on what it stages (snapshot and stream)", async () => {
    await src.pool.query(
      `CREATE TABLE prod (id int PRIMARY KEY, name text); INSERT INTO prod VALUES (1, 'a'), (2, 'b')`,
    );
    const c = systemConfig(src.url, {
      slot: 'remap_ver',
      publication: 'remap_ver',
      tables: [{ table: 'prod', entity: 'product', key: ['id'], fields: { name: 'name' } }],
    });
    const o = { system: 'versys', entities: { product: { mappingVersion: 3 } } };
    expect((await syncOnce(staging.staging, c, o)).outcome).toBe('caught_up');
    await src.pool.query(`INSERT INTO prod VALUES (3, 'c')`);
    expect((await syncOnce(staging.staging, c, o)).outcome).toBe('caught_up');
    const { rows } = await staging.staging.pool.query(
      `SELECT source_id, mapping_version FROM staging.product WHERE system = 'versys' ORDER BY source_id`,
    );
    expect(rows).toEqual([
      { source_id: '1', mapping_version: 3 },
      { source_id: '2', mapping_version: 3 },
      { source_id: '3', mapping_version: 3 },
    ]);
  });
  it('a letter of a table mapped by SQL expression is tried as stored, saying why it is not mapped again', async () => {
    await src.pool.query(
      `CREATE TABLE expr (id int PRIMARY KEY, lim text); INSERT INTO expr VALUES (1, 'n/a'), (2, '5')`,
    );
    const c = systemConfig(src.url, {
      slot: 'remap_expr',
      publication: 'remap_expr',
      tables: [{ table: 'expr', entity: 'invoice', key: ['id'], fields: { total: { sql: 't.lim' } } }],
    });
    expect((await syncOnce(staging.staging, c, { system: 'exprsys' })).outcome).toBe('caught_up');
    const res = await replayDeadLetters(
      staging.staging,
      { tenant: 'acme', system: 'exprsys' },
      { remappers: tenantRemappers('acme', { exprsys: c }, {}) },
    );
    expect(res.replayed).toEqual([]);
    expect(res.failed).toHaveLength(1);
    expect(res.failed[0]!.message).toMatch(
      /^still invalid: invoice "1": total: .* \(the stored change was tried: it cannot be mapped again offline: public\.expr maps total by SQL expression, .*trueup backfill --ids/,
    );
  });
});

function letterVersion(letters: Awaited<ReturnType<typeof listDeadLetters>>, id: string): string {
  const l = letters.find((x) => x.sourceId === id)!;
  return String((l.record as { change: { version: string } }).change.version);
}

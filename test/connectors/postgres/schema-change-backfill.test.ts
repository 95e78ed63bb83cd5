// A schema change without a full re-snapshot: a mapped column dropped stops one table; after the
// mapping is fixed, a whole-table backfill of that table re-reads it (sweeping rows deleted while
// it was stopped), clears the stop, and the next sync streams it again from the slot. The other
// table of the source was never stopped and never re-read; no staged version goes down. A column
// retyped under a running stream comes back the same way, with the mapping unchanged.
import { describe, expect, it } from 'vitest';
import type { RereadRequest } from '../../../pipeline/connectors/contract.js';
import { cdcSourceStatus } from '../../../pipeline/connectors/postgres/cdc-status.js';
import { rereadSystem } from '../../../pipeline/connectors/stream-runner.js';
import { listCheckpoints } from '../../../staging/checkpoints.js';
import { listDeadLetters } from '../../../staging/control/dead-letters.js';
import { useTestDatabase } from '../../support/database.js';
import {
  quietLogger,
  runRecorded,
  syncOnce,
  systemConfig,
  until,
  useSourceDatabase,
} from '../../support/postgres.js';

const t = useTestDatabase('schemachg');
const src = useSourceDatabase();

const keeps = { table: 'keeps', entity: 'customer', key: ['id'], fields: { name: 'name' } };
const broken = () =>
  systemConfig(src.url, {
    slot: 'schemachg',
    publication: 'schemachg',
    tables: [
      keeps,
      { table: 'drops', entity: 'product', key: ['id'], fields: { name: 'name', sku: 'notes' } },
    ],
  });
const fixed = () =>
  systemConfig(src.url, {
    slot: 'schemachg',
    publication: 'schemachg',
    tables: [keeps, { table: 'drops', entity: 'product', key: ['id'], fields: { name: 'name' } }],
  });
const tableBackfill: RereadRequest = { entity: 'product', all: true, source: { table: 'public.drops' } };

async function staged(entity: string): Promise<string[]> {
  const res = await t.staging.pool.query(
    `SELECT source_id || ':' || name AS r FROM staging.${entity}
      WHERE tenant_id = 'acme' AND system = 'erp' AND deleted_at IS NULL ORDER BY source_id::int`,
  );
  return res.rows.map((r) => r.r as string);
}
async function source(table: string): Promise<string[]> {
  const res = await src.pool.query(`SELECT id || ':' || name AS r FROM ${table} ORDER BY id`);
  return res.rows.map((r) => r.r as string);
}

describe('postgres: a stopped table comes back by a table backfill', () => {
  it('dropped column → fixed mapping → table backfill → streaming resumes; the other table never stopped', async () => {
    await src.pool.query(`CREATE TABLE keeps (id int PRIMARY KEY, name text);
      CREATE TABLE drops (id int PRIMARY KEY, name text, notes text);
      INSERT INTO keeps SELECT g, 'k' || g FROM generate_series(1, 5) g;
      INSERT INTO drops SELECT g, 'd' || g, 'x' FROM generate_series(1, 5) g;`);
    const deps = { staging: t.staging, logger: quietLogger() };
    expect((await syncOnce(t.staging, broken())).outcome).toBe('caught_up');
    expect(await staged('product')).toHaveLength(5);

    // From here on, any update that lowers a staged version is recorded.
    await t.staging.pool.query(`
      CREATE TABLE public.version_audit (source_id text, old_version bigint, new_version bigint);
      CREATE FUNCTION public.audit_version() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
      BEGIN
        IF NEW.version < OLD.version THEN
          INSERT INTO public.version_audit VALUES (OLD.source_id, OLD.version, NEW.version);
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER audit_version BEFORE UPDATE ON staging.product
        FOR EACH ROW EXECUTE FUNCTION public.audit_version();`);

    await src.pool.query(`ALTER TABLE drops DROP COLUMN notes; UPDATE drops SET name = 'd1-a' WHERE id = 1`);
    await src.pool.query(`UPDATE keeps SET name = 'k1-a' WHERE id = 1`);
    expect((await syncOnce(t.staging, broken())).stoppedTables).toEqual(['public.drops']);
    // While stopped, the stream passes over the table's changes (the slot moves on).
    await src.pool.query(`UPDATE drops SET name = 'd3-b' WHERE id = 3; DELETE FROM drops WHERE id = 2;
      INSERT INTO drops VALUES (6, 'd6'); INSERT INTO keeps VALUES (6, 'k6')`);
    expect((await syncOnce(t.staging, broken())).stoppedTables).toEqual(['public.drops']);
    // These changes come after the stream's checkpoint; the re-read's snapshot holds them too.
    await src.pool.query(`UPDATE drops SET name = 'd4-c' WHERE id = 4; DELETE FROM drops WHERE id = 5`);
    expect(await staged('product')).toEqual(['1:d1', '2:d2', '3:d3', '4:d4', '5:d5']);
    expect(await staged('customer')).toEqual(await source('keeps'));

    // With the mapping still naming the dropped column, the re-read fails and the table stays stopped.
    const failed = await rereadSystem(deps, 'acme', 'erp', broken(), tableBackfill);
    expect(failed.status).toBe('failed');
    expect(failed.streams[0]!.detail ?? failed.error).toMatch(/notes/);

    // A running sync of the source holds the slot: the backfill that would resume the table refuses.
    const running = runRecorded(t.staging, fixed(), { tenant: 'acme', system: 'erp' });
    try {
      await until('the sync streams', () => running.states.includes('streaming'), 30_000);
      const busy = await rereadSystem(deps, 'acme', 'erp', fixed(), tableBackfill);
      expect(busy.status).toBe('failed');
      expect(busy.streams[0]!.detail ?? busy.error).toMatch(/public\.drops is stopped.*stop that sync/);
    } finally {
      running.abort.abort();
      await running.done;
    }

    const before = (await listCheckpoints(t.staging.db, 'acme')).find((c) => c.stream === 'schemachg');
    const r = await rereadSystem(deps, 'acme', 'erp', fixed(), tableBackfill);
    expect(r.status, r.error).toBe('completed');
    expect(r.streams.map((s) => s.stream)).toEqual(['public.drops']);
    expect(r.streams[0]!.detail).toMatch(/public\.drops resumed/);
    expect(await staged('product')).toEqual(await source('drops'));
    // The slot's checkpoint did not move; the table's stream state is no longer failed.
    const after = await listCheckpoints(t.staging.db, 'acme');
    expect(after.find((c) => c.stream === 'schemachg')?.position).toEqual(before?.position);
    expect(after.find((c) => c.stream === 'schemachg:table:public.drops')?.state).toBe('backfilled');
    expect(after.some((c) => c.stream === 'schemachg:table:public.keeps')).toBe(false);
    const open = await listDeadLetters(t.staging.db, { tenant: 'acme', status: 'open' });
    expect(open.filter((d) => d.errorKind === 'schema_change')).toEqual([]);

    // The next sync streams the table again: the changes since its checkpoint (already in the
    // re-read) change nothing, the ones after the re-read arrive.
    await src.pool.query(`UPDATE drops SET name = 'd6-d' WHERE id = 6; INSERT INTO drops VALUES (7, 'd7')`);
    const out = await syncOnce(t.staging, fixed());
    expect(out).toMatchObject({ outcome: 'caught_up', stoppedTables: [] });
    expect(await staged('product')).toEqual(await source('drops'));
    expect(await staged('customer')).toEqual(await source('keeps'));
    expect((await cdcSourceStatus(t.staging, 'acme', 'erp', fixed())).stoppedTables).toEqual([]);
    expect((await t.staging.pool.query('SELECT * FROM public.version_audit')).rows).toEqual([]);
  }, 120_000);

  it('a retyped column: the same mapping re-reads the table and streaming resumes', async () => {
    const cfg = systemConfig(src.url, {
      slot: 'retyped',
      publication: 'retyped',
      tables: [{ table: 'retypes', entity: 'product', key: ['id'], fields: { name: 'name', sku: 'code' } }],
    });
    const o = { system: 'rt' };
    await src.pool.query(`CREATE TABLE retypes (id int PRIMARY KEY, name text, code int);
      INSERT INTO retypes SELECT g, 'r' || g, g FROM generate_series(1, 3) g;`);
    expect((await syncOnce(t.staging, cfg, o)).outcome).toBe('caught_up');
    // The retype is seen against the column types the running stream started with.
    const running = runRecorded(t.staging, cfg, { tenant: 'acme', system: 'rt' });
    try {
      await until('the sync streams', () => running.states.includes('streaming'), 30_000);
      await src.pool.query(`ALTER TABLE retypes ALTER COLUMN code TYPE text USING 'X-' || code;
        UPDATE retypes SET name = 'r1-a' WHERE id = 1`);
      await until(
        'the table stops',
        async () =>
          (await listCheckpoints(t.staging.db, 'acme')).some(
            (c) => c.stream === 'retyped:table:public.retypes' && c.state === 'failed',
          ),
        30_000,
      );
    } finally {
      running.abort.abort();
      await running.done;
    }
    expect((await syncOnce(t.staging, cfg, o)).stoppedTables).toEqual(['public.retypes']);
    const request: RereadRequest = { ...tableBackfill, source: { table: 'retypes' } };
    const r = await rereadSystem({ staging: t.staging, logger: quietLogger() }, 'acme', 'rt', cfg, request);
    expect(r.status, r.error).toBe('completed');
    await src.pool.query(`UPDATE retypes SET code = 'X-9' WHERE id = 3`);
    expect((await syncOnce(t.staging, cfg, o)).stoppedTables).toEqual([]);
    const res = await t.staging.pool.query(
      `SELECT source_id || ':' || name || ':' || sku AS r FROM staging.product
        WHERE tenant_id = 'acme' AND system = 'rt' AND deleted_at IS NULL ORDER BY source_id::int`,
    );
    expect(res.rows.map((x) => x.r)).toEqual(['1:r1-a:X-1', '2:r2:X-2', '3:r3:X-9']);
  }, 60_000);
});

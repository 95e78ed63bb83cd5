// The postgres CDC connector against a real source database on the test cluster: the seam
// between snapshot and stream under concurrent writes, TOAST, TRUNCATE, relation changes,
// heartbeats and the startup slot check. TRUEUP_CDC_SEAM_ROWS raises the seam size (200k in CI nightly).
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { cdcSourceStatus } from '../../../pipeline/connectors/postgres/cdc-status.js';
import type { PostgresSystemConfig } from '../../../pipeline/connectors/postgres/config.js';
import { runSource } from '../../../pipeline/connectors/postgres/sync-source.js';
import { listDeadLetters } from '../../../staging/control/dead-letters.js';
import { useTestDatabase } from '../../support/database.js';
import { quietLogger, syncOnce, systemConfig, until, useSourceDatabase } from '../../support/postgres.js';

const SEAM_ROWS = Number(process.env.TRUEUP_CDC_SEAM_ROWS ?? 20_000);

const staging = useTestDatabase('cdc');
const src = useSourceDatabase();

/** A table with a hostile name and hostile column names, mapped with columns and expressions. */
async function itemsTable(name: string) {
  await src.pool.query(`CREATE TABLE "${name}" (
    id int PRIMARY KEY, "Name ""q""" text, amount numeric, company_id int, notes text, active boolean DEFAULT true)`);
}
function itemsConfig(table: string, slot: string, extra: Record<string, unknown> = {}): PostgresSystemConfig {
  return systemConfig(src.url, {
    slot,
    publication: slot,
    tables: [
      {
        table,
        entity: 'customer',
        key: ['id'],
        fields: {
          name: 'Name "q"',
          credit_limit: { sql: 'round(amount, 2)' },
          currency: { sql: "'EUR'" },
          email: 'notes',
        },
        softDelete: 'NOT active',
        ...extra,
      },
    ],
  });
}

async function sourceRows(table: string, where = 'active') {
  const res = await src.pool.query(
    `SELECT id::text AS id, "Name ""q""" AS name, trim_scale(round(amount, 2))::text AS amount FROM "${table}" WHERE ${where} ORDER BY 1`,
  );
  return res.rows;
}
async function stagedRows(tenant = 'acme', system = 'erp') {
  const res = await staging.staging.pool.query(
    `SELECT source_id AS id, name, credit_limit::text AS amount FROM staging.customer
      WHERE tenant_id = $1 AND system = $2 AND deleted_at IS NULL ORDER BY 1`,
    [tenant, system],
  );
  return res.rows;
}
const wipe = (system: string) =>
  staging.staging.pool.query('DELETE FROM staging.customer WHERE system = $1', [system]);

describe('postgres CDC', () => {
  it('seam: snapshot while a writer inserts, updates and deletes; staging equals the source', async () => {
    const table = 'Items; DROP TABLE x --';
    await itemsTable(table);
    await src.pool.query(
      `INSERT INTO "${table}" (id, "Name ""q""", amount, company_id) SELECT g, 'n' || g, g * 1.005, g % 3 FROM generate_series(1, $1) g`,
      [SEAM_ROWS],
    );
    const cfg = itemsConfig(table, 'seam_slot', {});
    let writing = true;
    let ops = 0;
    const writer = (async () => {
      let next = SEAM_ROWS + 1;
      while (writing) {
        const id = 1 + Math.floor(Math.random() * SEAM_ROWS);
        await src.pool.query(
          `BEGIN; INSERT INTO "${table}" (id, "Name ""q""", amount) VALUES (${next++}, 'new', 1);
           UPDATE "${table}" SET "Name ""q""" = 'upd ' || now(), amount = amount + 1 WHERE id = ${id};
           DELETE FROM "${table}" WHERE id = ${id + 1}; UPDATE "${table}" SET active = false WHERE id = ${id + 2}; COMMIT`,
        );
        ops++;
      }
    })();
    const first = await syncOnce(staging.staging, cfg, { system: 'erp' });
    writing = false;
    await writer;
    expect(first.outcome).toBe('caught_up');
    expect(ops).toBeGreaterThan(0);
    const second = await syncOnce(staging.staging, cfg, { system: 'erp' });
    expect(second.outcome).toBe('caught_up');
    expect(await stagedRows()).toEqual(await sourceRows(table));
    const status = await cdcSourceStatus(staging.staging, 'acme', 'erp', cfg);
    expect(status).toMatchObject({ state: 'idle', walStatus: 'reserved', reader: null });
    expect(status.checkpointLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  });

  it('a source transaction of many chunks, with hostile values through the expression path', async () => {
    await itemsTable('chunky');
    const base = itemsConfig('chunky', 'chunky_slot', {
      fields: {
        name: { sql: `t."Name ""q""" || '!'` },
        credit_limit: { sql: 'round(amount, 2)' },
        email: 'notes',
      },
    });
    const cfg = { ...base, stream: { ...base.stream, chunkRows: 300, maxGroupRows: 1000 } };
    await syncOnce(staging.staging, cfg, { system: 'chunky' });
    const hostile = ['a"b', 'back\\slash', '{x,y}', 'NULL', '', 'comma, "both" \\', 'ünï'];
    // One source transaction: 5000 inserts (17 chunks of 300), then updates of a third of them.
    const c = await src.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query(
        `INSERT INTO chunky (id, "Name ""q""", amount, notes)
           SELECT g, ($1::text[])[1 + g % 7], g * 1.005, CASE WHEN g % 5 = 0 THEN NULL ELSE ($1::text[])[1 + g % 7] END
             FROM generate_series(1, 5000) g`,
        [hostile],
      );
      await c.query('UPDATE chunky SET amount = amount + 1 WHERE id % 3 = 0');
      await c.query('COMMIT');
    } finally {
      c.release();
    }
    expect((await syncOnce(staging.staging, cfg, { system: 'chunky' })).outcome).toBe('caught_up');
    const expected = await src.pool.query(
      `SELECT id::text AS id, "Name ""q""" || '!' AS name, trim_scale(round(amount, 2))::text AS amount, notes AS email FROM chunky ORDER BY chunky.id`,
    );
    const got = await staging.staging.pool.query(
      `SELECT source_id AS id, name, credit_limit::text AS amount, email FROM staging.customer
        WHERE system = 'chunky' AND deleted_at IS NULL ORDER BY source_id::int`,
    );
    expect(got.rows).toEqual(expected.rows);
    expect(new Set(got.rows.map((r) => r.name))).toEqual(new Set(hostile.map((h) => `${h}!`)));
  });

  it('TOAST: an update that leaves a large text unchanged keeps the staged value', async () => {
    await itemsTable('toasty');
    const big = 'x'.repeat(50_000) + Math.random();
    await src.pool.query(`ALTER TABLE toasty ALTER COLUMN notes SET STORAGE EXTERNAL`);
    await src.pool.query(`INSERT INTO toasty (id, "Name ""q""", amount, notes) VALUES (1, 'a', 1, $1)`, [
      big,
    ]);
    const cfg = itemsConfig('toasty', 'toast_slot');
    expect((await syncOnce(staging.staging, cfg, { system: 'toast' })).outcome).toBe('caught_up');
    await src.pool.query(`UPDATE toasty SET "Name ""q""" = 'b' WHERE id = 1`);
    expect((await syncOnce(staging.staging, cfg, { system: 'toast' })).outcome).toBe('caught_up');
    const res = await staging.staging.pool.query(
      `SELECT name, email, raw->>'notes' AS raw_notes FROM staging.customer WHERE system = 'toast' AND source_id = '1'`,
    );
    expect(res.rows[0]).toEqual({ name: 'b', email: big, raw_notes: big });
  });

  it('TRUNCATE tombstones every staged row of that table; later inserts come back', async () => {
    await itemsTable('trunc');
    await src.pool.query(
      `INSERT INTO trunc (id, "Name ""q""", amount) SELECT g, 't', g FROM generate_series(1, 50) g`,
    );
    const cfg = itemsConfig('trunc', 'trunc_slot');
    await syncOnce(staging.staging, cfg, { system: 'trunc' });
    await src.pool.query(`TRUNCATE trunc`);
    await src.pool.query(`INSERT INTO trunc (id, "Name ""q""", amount) VALUES (7, 'back', 1)`);
    await syncOnce(staging.staging, cfg, { system: 'trunc' });
    expect(await stagedRows('acme', 'trunc')).toEqual([{ id: '7', name: 'back', amount: '1' }]);
  });

  it('an added column goes on; a dropped mapped column stops only that table, with a dead letter and status', async () => {
    await itemsTable('keeps');
    await itemsTable('drops');
    const cfg = systemConfig(src.url, {
      slot: 'schema_slot',
      publication: 'schema_slot',
      tables: [
        { table: 'keeps', entity: 'customer', key: ['id'], fields: { name: 'Name "q"' } },
        { table: 'drops', entity: 'product', key: ['id'], fields: { name: 'Name "q"', sku: 'notes' } },
      ],
    });
    await src.pool.query(
      `INSERT INTO keeps (id, "Name ""q""") VALUES (1, 'k1'); INSERT INTO drops (id, "Name ""q""") VALUES (1, 'd1')`,
    );
    await syncOnce(staging.staging, cfg, { system: 'schema' });
    await src.pool.query(
      `ALTER TABLE keeps ADD COLUMN extra text; UPDATE keeps SET extra = 'e', "Name ""q""" = 'k2'`,
    );
    await src.pool.query(`ALTER TABLE drops DROP COLUMN notes; UPDATE drops SET "Name ""q""" = 'd2'`);
    await src.pool.query(`INSERT INTO keeps (id, "Name ""q""") VALUES (2, 'k3')`);
    const out = await syncOnce(staging.staging, cfg, { system: 'schema' });
    expect(out.outcome).toBe('caught_up');
    expect(out.stoppedTables).toEqual(['public.drops']);
    const keeps = await staging.staging.pool.query(
      `SELECT source_id, name FROM staging.customer WHERE system = 'schema' ORDER BY 1`,
    );
    expect(keeps.rows).toEqual([
      { source_id: '1', name: 'k2' },
      { source_id: '2', name: 'k3' },
    ]);
    const drops = await staging.staging.pool.query(
      `SELECT name FROM staging.product WHERE system = 'schema'`,
    );
    expect(drops.rows).toEqual([{ name: 'd1' }]);
    const dead = await listDeadLetters(staging.staging.db, { tenant: 'acme' } as never);
    expect(
      dead.some(
        (d) =>
          d.errorKind === 'schema_change' &&
          /public\.drops.*"notes" was dropped.*--resnapshot/.test(d.errorMessage),
      ),
    ).toBe(true);
    const status = await cdcSourceStatus(staging.staging, 'acme', 'schema', cfg);
    expect(status.stoppedTables.map((s) => s.table)).toEqual(['public.drops']);
    // Still stopped after a restart; a re-snapshot with a fixed mapping recovers it.
    expect((await syncOnce(staging.staging, cfg, { system: 'schema' })).stoppedTables).toEqual([
      'public.drops',
    ]);
    const fixed = systemConfig(src.url, {
      ...cfg,
      tables: [
        cfg.tables[0],
        { table: 'drops', entity: 'product', key: ['id'], fields: { name: 'Name "q"' } },
      ],
    });
    const re = await syncOnce(staging.staging, fixed, { system: 'schema', resnapshot: true });
    expect(re).toMatchObject({ outcome: 'caught_up', stoppedTables: [] });
    expect(
      (await staging.staging.pool.query(`SELECT name FROM staging.product WHERE system = 'schema'`)).rows,
    ).toEqual([{ name: 'd2' }]);
  });

  it('a missing or invalidated slot is a loud error naming the re-snapshot command', async () => {
    await itemsTable('lost');
    const cfg = itemsConfig('lost', 'lost_slot');
    await syncOnce(staging.staging, cfg, { system: 'lost' });
    // The walsender of the finished sync may linger a moment.
    for (let i = 0; i < 100; i++) {
      const r = await src.pool.query(
        `SELECT 1 FROM pg_replication_slots WHERE slot_name = 'lost_slot' AND active`,
      );
      if (!r.rows.length) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    await src.pool.query(`SELECT pg_drop_replication_slot('lost_slot')`);
    const out = await syncOnce(staging.staging, cfg, { system: 'lost' });
    expect(out.outcome).toBe('failed');
    expect(out.error?.name).toBe('SlotLostError');
    expect(out.error?.message).toMatch(
      /"lost_slot" does not exist.*trueup sync --tenant acme --system lost --resnapshot/,
    );
    expect((await cdcSourceStatus(staging.staging, 'acme', 'lost', cfg)).state).toBe('slot_missing');
    expect((await syncOnce(staging.staging, cfg, { system: 'lost', resnapshot: true })).outcome).toBe(
      'caught_up',
    );
  });

  it('heartbeats advance an idle slot while another database is busy', async () => {
    await itemsTable('idle');
    const cfg = itemsConfig('idle', 'idle_slot');
    await syncOnce(staging.staging, cfg, { system: 'idle' });
    const abort = new AbortController();
    const running = runSource({
      tenant: 'acme',
      system: 'idle',
      config: cfg,
      staging: staging.staging,
      logger: quietLogger(),
      once: false,
      signal: abort.signal,
    });
    // Another database generates WAL; our source stays idle.
    const other = new pg.Client({ connectionString: staging.url });
    await other.connect();
    const start = (await other.query('SELECT pg_current_wal_lsn()::text AS l')).rows[0].l;
    await other.query('CREATE TABLE IF NOT EXISTS public.wal_noise (x text)');
    for (let i = 0; i < 10; i++) {
      await other.query(`INSERT INTO public.wal_noise SELECT repeat('n', 500) FROM generate_series(1, 2000)`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const { end, generated } = (
      await other.query(
        'SELECT pg_current_wal_lsn()::text AS end, pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::bigint AS generated',
        [start],
      )
    ).rows[0];
    await other.end();
    // How far the slot is behind the end of the busy period (WAL that other test files write on
    // the shared cluster afterwards does not count; negative once the slot is past it). Without
    // heartbeats the slot would hold back all the WAL the busy database wrote, and this wait
    // would time out; with them it passes as soon as the next heartbeats are acknowledged.
    const behind = async () =>
      Number(
        (
          await src.pool.query(
            `SELECT pg_wal_lsn_diff($1::pg_lsn, confirmed_flush_lsn)::bigint AS behind FROM pg_replication_slots WHERE slot_name = 'idle_slot'`,
            [end],
          )
        ).rows[0].behind,
      );
    await until('heartbeats to advance the idle slot', async () => (await behind()) < Number(generated) / 4);
    abort.abort();
    expect((await running).outcome).toBe('stopped');
  });

  it('row filter: rows moving out of scope become tombstones, other companies never appear', async () => {
    await itemsTable('filtered');
    await src.pool.query(
      `INSERT INTO filtered (id, "Name ""q""", company_id) VALUES (1, 'a', 1), (2, 'b', 3)`,
    );
    const cfg = itemsConfig('filtered', 'filter_slot', { filter: 'company_id = 1' });
    await syncOnce(staging.staging, cfg, { system: 'filt' });
    await src.pool.query(`UPDATE filtered SET company_id = 3 WHERE id = 1; UPDATE filtered SET "Name ""q""" = 'b2' WHERE id = 2;
      INSERT INTO filtered (id, "Name ""q""", company_id) VALUES (3, 'c', 1), (4, 'd', 3); DELETE FROM filtered WHERE id = 4`);
    await syncOnce(staging.staging, cfg, { system: 'filt' });
    const res = await staging.staging.pool.query(
      `SELECT source_id, deleted_at IS NOT NULL AS deleted FROM staging.customer WHERE system = 'filt' ORDER BY 1`,
    );
    expect(res.rows).toEqual([
      { source_id: '1', deleted: true },
      { source_id: '3', deleted: false },
    ]);
    await wipe('filt');
  });
});

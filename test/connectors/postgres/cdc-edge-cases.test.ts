// The postgres CDC connector on the edges of the stream: key changes under REPLICA IDENTITY FULL,
// NULL keys, TRUNCATE inside a transaction (and its replay), unchanged TOAST values, one table mapped to two entities,
// and transient source errors while mapping.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { PostgresSystemConfig } from '../../../pipeline/connectors/postgres/config.js';
import { slotStillActive } from '../../../pipeline/connectors/postgres/errors.js';
import type { SourceState } from '../../../pipeline/connectors/postgres/source-machine.js';
import { runSource, type SourceOutcome } from '../../../pipeline/connectors/postgres/sync-source.js';
import { loadCheckpoint, saveCheckpoint } from '../../../staging/checkpoints.js';
import { listDeadLetters } from '../../../staging/control/dead-letters.js';
import { inTransaction } from '../../../staging/database.js';
import { useTestDatabase } from '../../support/database.js';
import { quietLogger, syncOnce, systemConfig, until, useSourceDatabase } from '../../support/postgres.js';

const staging = useTestDatabase('cdcedge');
const src = useSourceDatabase();

async function live(system: string, entity = 'customer'): Promise<string[]> {
  const res = await staging.staging.pool.query(
    `SELECT source_id FROM staging.${entity} WHERE tenant_id = 'acme' AND system = $1 AND deleted_at IS NULL ORDER BY 1`,
    [system],
  );
  return res.rows.map((r) => r.source_id);
}
async function staged(system: string) {
  const res = await staging.staging.pool.query(
    `SELECT source_id AS id, name, version::text AS version, staged_seq::text AS seq, deleted_at IS NOT NULL AS deleted
       FROM staging.customer WHERE tenant_id = 'acme' AND system = $1 ORDER BY 1`,
    [system],
  );
  return res.rows as { id: string; name: string; version: string; seq: string; deleted: boolean }[];
}
function simple(table: string, slot: string, extra: Record<string, unknown> = {}): PostgresSystemConfig {
  return systemConfig(src.url, {
    slot,
    publication: slot,
    tables: [{ table, entity: 'customer', key: ['id'], fields: { name: 'name' }, ...extra }],
  });
}

/** A --once run whose states are recorded, started without waiting for it. */
function startOnce(config: PostgresSystemConfig, system: string) {
  const states: SourceState[] = [];
  const done: Promise<SourceOutcome> = runSource({
    tenant: 'acme',
    system,
    config,
    staging: staging.staging,
    logger: quietLogger(),
    once: true,
    onState: (m) => {
      if (states.at(-1) !== m.state) states.push(m.state);
    },
  });
  return { states, done };
}

describe('postgres CDC: keys', () => {
  it('REPLICA IDENTITY FULL: an update of the key tombstones the old key', async () => {
    await src.pool.query(`CREATE TABLE full_key (id int PRIMARY KEY, name text)`);
    await src.pool.query(`ALTER TABLE full_key REPLICA IDENTITY FULL`);
    await src.pool.query(`INSERT INTO full_key VALUES (1, 'a'), (5, 'e')`);
    const c = simple('full_key', 'e_full_key');
    expect((await syncOnce(staging.staging, c, { system: 'fullkey' })).outcome).toBe('caught_up');
    await src.pool.query(
      `UPDATE full_key SET id = 2 WHERE id = 1; UPDATE full_key SET name = 'e2' WHERE id = 5`,
    );
    expect((await syncOnce(staging.staging, c, { system: 'fullkey' })).outcome).toBe('caught_up');
    expect(await live('fullkey')).toEqual(['2', '5']);
  });

  it('composite quoted key: a change of one key part tombstones the old identity', async () => {
    await src.pool.query(
      `CREATE TABLE "Comp" ("Org Id" int, "no" text, name text, PRIMARY KEY ("Org Id", "no"))`,
    );
    await src.pool.query(`INSERT INTO "Comp" VALUES (1, 'A', 'x')`);
    const c = systemConfig(src.url, {
      slot: 'e_comp',
      publication: 'e_comp',
      tables: [{ table: 'Comp', entity: 'customer', key: ['Org Id', 'no'], fields: { name: 'name' } }],
    });
    expect((await syncOnce(staging.staging, c, { system: 'comp' })).outcome).toBe('caught_up');
    await src.pool.query(`UPDATE "Comp" SET "no" = 'B' WHERE "Org Id" = 1`);
    expect((await syncOnce(staging.staging, c, { system: 'comp' })).outcome).toBe('caught_up');
    expect(await live('comp')).toEqual(['["1","B"]']);
  });

  it('a NULL key column (REPLICA IDENTITY FULL) dead-letters that row, naming tenant, system and table; the rest goes on', async () => {
    await src.pool.query(`CREATE TABLE nk (id int PRIMARY KEY, ref text, name text)`);
    await src.pool.query(`ALTER TABLE nk REPLICA IDENTITY FULL`);
    await src.pool.query(`CREATE TABLE nk_other (id int PRIMARY KEY, sku text)`);
    await src.pool.query(`INSERT INTO nk VALUES (1, 'R1', 'a'), (3, NULL, 'snap')`);
    const c = systemConfig(src.url, {
      slot: 'e_null_key',
      publication: 'e_null_key',
      tables: [
        { table: 'nk', entity: 'customer', key: ['ref'], fields: { name: 'name' } },
        { table: 'nk_other', entity: 'product', key: ['id'], fields: { sku: 'sku' } },
      ],
    });
    expect((await syncOnce(staging.staging, c, { system: 'nullkey' })).outcome).toBe('caught_up');
    expect(await live('nullkey')).toEqual(['R1']);
    await src.pool.query(`INSERT INTO nk VALUES (2, NULL, 'b')`);
    await src.pool.query(`UPDATE nk SET ref = NULL WHERE id = 1`); // the key goes: R1 is tombstoned
    await src.pool.query(`UPDATE nk SET ref = 'R3' WHERE id = 3`); // a key appears: R3 is staged
    await src.pool.query(`DELETE FROM nk WHERE id = 2`);
    await src.pool.query(`INSERT INTO nk_other VALUES (7, 'S7')`);
    const out = await syncOnce(staging.staging, c, { system: 'nullkey' });
    expect(out.error?.message).toBeUndefined();
    expect(out.outcome).toBe('caught_up');
    expect(await live('nullkey', 'product')).toEqual(['7']);
    expect(await live('nullkey')).toEqual(['R3']);
    const dead = await listDeadLetters(staging.staging.db, { tenant: 'acme', system: 'nullkey' });
    expect(dead.map((d) => d.errorKind)).toEqual(['mapping', 'mapping', 'mapping']);
    for (const d of dead)
      expect(d.errorMessage).toMatch(
        /tenant acme, system nullkey, table public\.nk \(customer\): .*key column \(ref\) is null/,
      );
    expect(dead.map((d) => (d.record as { raw: { name: string } }).raw.name)).toEqual(['snap', 'b', 'a']);
  });
});

describe('postgres CDC: TRUNCATE inside a transaction', () => {
  it('TRUNCATE and reload in one source transaction: the reloaded rows are live', async () => {
    await src.pool.query(`CREATE TABLE reload (id int PRIMARY KEY, name text)`);
    await src.pool.query(`INSERT INTO reload SELECT g, 'v1' FROM generate_series(1, 6) g`);
    const c = simple('reload', 'e_reload');
    expect((await syncOnce(staging.staging, c, { system: 'reload' })).outcome).toBe('caught_up');
    await src.pool.query(
      `BEGIN; DELETE FROM reload WHERE id = 1; TRUNCATE reload;
              INSERT INTO reload SELECT g, 'v2' FROM generate_series(1, 5) g; DELETE FROM reload WHERE id = 5; COMMIT`,
    );
    expect((await syncOnce(staging.staging, c, { system: 'reload' })).outcome).toBe('caught_up');
    expect(await live('reload')).toEqual(['1', '2', '3', '4']);
    expect((await staged('reload')).filter((r) => !r.deleted).map((r) => r.name)).toEqual([
      'v2',
      'v2',
      'v2',
      'v2',
    ]);
  });

  it('a key deleted and re-inserted, or filtered out and back in, in one transaction stays live across chunks', async () => {
    await src.pool.query(`CREATE TABLE churn_tx (id int PRIMARY KEY, name text, company int)`);
    await src.pool.query(`INSERT INTO churn_tx VALUES (1, 'a', 1), (2, 'b', 1)`);
    const c = simple('churn_tx', 'e_churn_tx', { filter: 'company = 1' });
    const small = { ...c, stream: { ...c.stream, chunkRows: 1 } }; // each change its own chunk
    expect((await syncOnce(staging.staging, small, { system: 'churntx' })).outcome).toBe('caught_up');
    await src.pool.query(
      `BEGIN; DELETE FROM churn_tx WHERE id = 1; INSERT INTO churn_tx VALUES (1, 'a2', 1);
              UPDATE churn_tx SET company = 2 WHERE id = 2; UPDATE churn_tx SET company = 1, name = 'b2' WHERE id = 2; COMMIT`,
    );
    expect((await syncOnce(staging.staging, small, { system: 'churntx' })).outcome).toBe('caught_up');
    expect((await staged('churntx')).map((r) => [r.id, r.name, r.deleted])).toEqual([
      ['1', 'a2', false],
      ['2', 'b2', false],
    ]);
  });

  it('TRUNCATE after an insert/update in the same source transaction tombstones those rows too', async () => {
    await src.pool.query(`CREATE TABLE trunc_late (id int PRIMARY KEY, name text)`);
    await src.pool.query(`INSERT INTO trunc_late VALUES (1, 'a')`);
    const c = simple('trunc_late', 'e_trunc_late', {});
    const small = { ...c, stream: { ...c.stream, chunkRows: 1 } }; // each change its own chunk
    expect((await syncOnce(staging.staging, small, { system: 'trlate' })).outcome).toBe('caught_up');
    await src.pool.query(
      `BEGIN; UPDATE trunc_late SET name = 'b' WHERE id = 1; INSERT INTO trunc_late VALUES (2, 'c'); TRUNCATE trunc_late; COMMIT`,
    );
    expect((await syncOnce(staging.staging, small, { system: 'trlate' })).outcome).toBe('caught_up');
    expect(await live('trlate')).toEqual([]);
  });

  it('TRUNCATE of several mapped tables in one statement tombstones all of them', async () => {
    await src.pool.query(
      `CREATE TABLE ta (id int PRIMARY KEY, name text); CREATE TABLE tb (id int PRIMARY KEY, sku text)`,
    );
    await src.pool.query(`INSERT INTO ta VALUES (1, 'a'), (2, 'b'); INSERT INTO tb VALUES (1, 'x')`);
    const c = systemConfig(src.url, {
      slot: 'e_multi_trunc',
      publication: 'e_multi_trunc',
      tables: [
        { table: 'ta', entity: 'customer', key: ['id'], fields: { name: 'name' } },
        { table: 'tb', entity: 'product', key: ['id'], fields: { sku: 'sku' } },
      ],
    });
    expect((await syncOnce(staging.staging, c, { system: 'mtrunc' })).outcome).toBe('caught_up');
    await src.pool.query(`TRUNCATE ta, tb`);
    expect((await syncOnce(staging.staging, c, { system: 'mtrunc' })).outcome).toBe('caught_up');
    expect(await live('mtrunc')).toEqual([]);
    expect(await live('mtrunc', 'product')).toEqual([]);
  });

  it('a replay of transactions with a TRUNCATE (crash after commit, before the ack) gives the same rows, no version regressed', async () => {
    await src.pool.query(`CREATE TABLE rp (id int PRIMARY KEY, name text)`);
    await src.pool.query(`INSERT INTO rp SELECT g, 'v1' FROM generate_series(1, 4) g`);
    const a = simple('rp', 'e_rp_a', {});
    expect((await syncOnce(staging.staging, a, { system: 'replay' })).outcome).toBe('caught_up');
    // A second slot at the same position stands for the slot a crash left unacknowledged.
    await src.pool.query(`SELECT pg_copy_logical_replication_slot('e_rp_a', 'e_rp_b')`);
    await src.pool.query(
      `BEGIN; UPDATE rp SET name = 'u' WHERE id = 1; TRUNCATE rp; INSERT INTO rp VALUES (1, 'w1'), (2, 'w2'); COMMIT`,
    );
    await src.pool.query(`UPDATE rp SET name = 'later' WHERE id = 2; INSERT INTO rp VALUES (9, 'n9')`);
    expect((await syncOnce(staging.staging, a, { system: 'replay' })).outcome).toBe('caught_up');
    const before = await staged('replay');
    expect(before.map((r) => [r.id, r.name, r.deleted])).toEqual([
      ['1', 'w1', false],
      ['2', 'later', false],
      ['3', 'v1', true],
      ['4', 'v1', true],
      ['9', 'n9', false],
    ]);
    // Replay everything since the copy: the checkpoint is the one slot A committed.
    const position = await loadCheckpoint(staging.staging.pool, {
      tenant: 'acme',
      system: 'replay',
      stream: 'e_rp_a',
    });
    await inTransaction(staging.staging.pool, (c) =>
      saveCheckpoint(c, { tenant: 'acme', system: 'replay', stream: 'e_rp_b', position }),
    );
    const b = { ...a, slot: 'e_rp_b' };
    expect((await syncOnce(staging.staging, b, { system: 'replay' })).outcome).toBe('caught_up');
    const after = await staged('replay');
    expect(after.map(({ seq: _seq, ...r }) => r)).toEqual(before.map(({ seq: _seq, ...r }) => r));
    // The TRUNCATE was replayed (row 1 written again), with the same outcome.
    expect(BigInt(after[0]!.seq)).toBeGreaterThan(BigInt(before[0]!.seq));
  });
});

describe('postgres CDC: unchanged TOAST values', () => {
  const big = () => `${'x'.repeat(40_000)}${Math.random()}`;
  async function toastTable(name: string) {
    await src.pool.query(`CREATE TABLE ${name} (id int PRIMARY KEY, name text, company int, notes text)`);
    await src.pool.query(`ALTER TABLE ${name} ALTER COLUMN notes SET STORAGE EXTERNAL`);
  }
  const notesOf = async (system: string) =>
    (
      await staging.staging.pool.query(
        `SELECT source_id AS id, name, email = $2 AS same, deleted_at IS NOT NULL AS deleted
           FROM staging.customer WHERE tenant_id = 'acme' AND system = $1 ORDER BY 1`,
        [system, notes],
      )
    ).rows;
  let notes = '';

  it('an update of the key keeps the large value under the new key', async () => {
    await toastTable('toast_key');
    notes = big();
    await src.pool.query(`INSERT INTO toast_key VALUES (1, 'a', 1, $1)`, [notes]);
    const c = simple('toast_key', 'e_toast_key', { fields: { name: 'name', email: 'notes' } });
    expect((await syncOnce(staging.staging, c, { system: 'toastkey' })).outcome).toBe('caught_up');
    await src.pool.query(`UPDATE toast_key SET id = 2, name = 'b' WHERE id = 1`);
    expect((await syncOnce(staging.staging, c, { system: 'toastkey' })).outcome).toBe('caught_up');
    expect(await notesOf('toastkey')).toEqual([
      { id: '1', name: 'a', same: true, deleted: true },
      { id: '2', name: 'b', same: true, deleted: false },
    ]);
  });

  it("a row entering the filter's scope gets its large value", async () => {
    await toastTable('toast_scope');
    notes = big();
    await src.pool.query(`INSERT INTO toast_scope VALUES (1, 'a', 2, $1)`, [notes]);
    const c = simple('toast_scope', 'e_toast_scope', {
      fields: { name: 'name', email: 'notes' },
      filter: 'company = 1',
    });
    expect((await syncOnce(staging.staging, c, { system: 'toastscope' })).outcome).toBe('caught_up');
    expect(await notesOf('toastscope')).toEqual([]);
    await src.pool.query(`UPDATE toast_scope SET company = 1 WHERE id = 1`);
    expect((await syncOnce(staging.staging, c, { system: 'toastscope' })).outcome).toBe('caught_up');
    expect(await notesOf('toastscope')).toEqual([{ id: '1', name: 'a', same: true, deleted: false }]);
  });

  it('a filter over a large column sees its unchanged value', async () => {
    await toastTable('toast_filter');
    notes = `keep ${big()}`;
    await src.pool.query(`INSERT INTO toast_filter VALUES (1, 'a', 1, $1)`, [notes]);
    const c = simple('toast_filter', 'e_toast_filter', {
      fields: { name: 'name', email: 'notes' },
      filter: "notes LIKE 'keep%'",
    });
    expect((await syncOnce(staging.staging, c, { system: 'toastfilter' })).outcome).toBe('caught_up');
    await src.pool.query(`UPDATE toast_filter SET name = 'b' WHERE id = 1`);
    expect((await syncOnce(staging.staging, c, { system: 'toastfilter' })).outcome).toBe('caught_up');
    expect(await notesOf('toastfilter')).toEqual([{ id: '1', name: 'b', same: true, deleted: false }]);
  });
});

describe('postgres CDC: one table, two entities', () => {
  it('snapshot, streamed changes, key-less deletes and TRUNCATE reach every mapping of the table', async () => {
    await src.pool.query(`CREATE TABLE so (id int PRIMARY KEY, name text, is_sub boolean)`);
    await src.pool.query(`INSERT INTO so VALUES (1, 'a', true), (3, 'c', false)`);
    const c = systemConfig(src.url, {
      slot: 'e_two_ent',
      publication: 'e_two_ent',
      tables: [
        { table: 'so', entity: 'order', key: ['id'], fields: { number: 'name' } },
        { table: 'so', entity: 'subscription', key: ['id'], fields: { status: 'name' }, filter: 'is_sub' },
      ],
    });
    expect((await syncOnce(staging.staging, c, { system: 'twoent' })).outcome).toBe('caught_up');
    expect(await live('twoent', 'order')).toEqual(['1', '3']);
    expect(await live('twoent', 'subscription')).toEqual(['1']);
    await src.pool.query(`INSERT INTO so VALUES (2, 'b', true); UPDATE so SET is_sub = true WHERE id = 3`);
    await src.pool.query(`DELETE FROM so WHERE id = 1`);
    expect((await syncOnce(staging.staging, c, { system: 'twoent' })).outcome).toBe('caught_up');
    expect(await live('twoent', 'order')).toEqual(['2', '3']);
    expect(await live('twoent', 'subscription')).toEqual(['2', '3']);
    await src.pool.query(`BEGIN; TRUNCATE so; INSERT INTO so VALUES (4, 'd', false); COMMIT`);
    expect((await syncOnce(staging.staging, c, { system: 'twoent' })).outcome).toBe('caught_up');
    expect(await live('twoent', 'order')).toEqual(['4']);
    expect(await live('twoent', 'subscription')).toEqual([]);
  });
});

describe('postgres CDC: source errors', () => {
  it('under --once a source that stays unreachable fails after stream.onceRetryMs instead of retrying forever', async () => {
    const c = simple('never_there', 'e_unreachable');
    const down = {
      ...c,
      connection: 'postgres://nobody:pw-unreachable-1@127.0.0.1:1/none',
      stream: { ...c.stream, onceRetryMs: 400 },
    };
    const t0 = Date.now();
    const res = await syncOnce(staging.staging, down, { system: 'unreachable' });
    expect(res.outcome).toBe('failed');
    expect(res.error?.message).toMatch(
      /gave up after retrying for 400 ms under --once \(stream.onceRetryMs\)/,
    );
    expect(res.error?.message).not.toContain('pw-unreachable-1');
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  it("a slot still active for the previous reader's walsender (a restart right after a stop) is retried, not a failure", async () => {
    await src.pool.query(`CREATE TABLE busy_slot (id int PRIMARY KEY, name text)`);
    await src.pool.query(`INSERT INTO busy_slot VALUES (1, 'a')`);
    const c = simple('busy_slot', 'e_busy_slot');
    expect((await syncOnce(staging.staging, c, { system: 'busy' })).outcome).toBe('caught_up');
    await src.pool.query(`INSERT INTO busy_slot VALUES (2, 'b')`);
    // Another replication session on the slot, as a walsender that has not ended yet.
    const startSql = `START_REPLICATION SLOT e_busy_slot LOGICAL 0/0 (proto_version '1', publication_names 'e_busy_slot')`;
    const replication = async () => {
      const client = new pg.Client({ connectionString: src.url, replication: 'database' } as pg.ClientConfig);
      client.on('error', () => {});
      await client.connect();
      return client;
    };
    const holder = await replication();
    void holder.query(startSql).catch(() => {});
    await until('the slot held by the other session', async () => {
      const r = await src.pool.query(
        `SELECT active FROM pg_replication_slots WHERE slot_name = 'e_busy_slot'`,
      );
      return r.rows[0]?.active === true;
    });
    // What START_REPLICATION answers meanwhile (the sync checks the slot first; this covers a
    // walsender still ending between that check and its START_REPLICATION): retried.
    const second = await replication();
    const refused = await second.query(startSql).then(
      () => undefined,
      (err: unknown) => err,
    );
    await second.end().catch(() => {});
    expect((refused as { code?: string }).code).toBe('55006');
    expect(slotStillActive(refused)).toBe(true);
    const run = startOnce({ ...c, stream: { ...c.stream, onceRetryMs: 60_000 } }, 'busy');
    await until('the sync retrying', async () => run.states.includes('backing-off'), 30_000);
    await holder.end().catch(() => {});
    const out = await run.done;
    expect(out.outcome, out.error?.message).toBe('caught_up');
    expect(await live('busy')).toEqual(['1', '2']);
  });

  it('a transient error (57014) while mapping streamed rows is retried, not dead-lettered and acknowledged', async () => {
    await src.pool.query(`CREATE TABLE flag (on_ boolean); INSERT INTO flag VALUES (false)`);
    await src.pool.query(`CREATE FUNCTION maybe_cancel(x text) RETURNS text LANGUAGE plpgsql AS $$
      BEGIN IF (SELECT on_ FROM flag) THEN RAISE EXCEPTION 'canceling statement due to statement timeout' USING ERRCODE = '57014'; END IF;
            IF x = 'bad' THEN RAISE EXCEPTION 'bad row' USING ERRCODE = '22023'; END IF; RETURN x; END $$`);
    await src.pool.query(`CREATE TABLE tm (id int PRIMARY KEY, name text)`);
    await src.pool.query(`INSERT INTO tm VALUES (1, 'a')`);
    const c = simple('tm', 'e_transient_map', { fields: { name: { sql: 'maybe_cancel(t.name)' } } });
    expect((await syncOnce(staging.staging, c, { system: 'tmap' })).outcome).toBe('caught_up');
    await src.pool.query(`UPDATE flag SET on_ = true`);
    await src.pool.query(`INSERT INTO tm VALUES (2, 'b'), (3, 'bad')`);
    const run = startOnce(c, 'tmap');
    await until(
      'a retry after the transient error',
      () => run.states.filter((s) => s === 'backing-off').length >= 2,
    );
    expect(await live('tmap')).toEqual(['1']);
    expect(await listDeadLetters(staging.staging.db, { tenant: 'acme', system: 'tmap' })).toEqual([]);
    await src.pool.query(`UPDATE flag SET on_ = false`);
    expect((await run.done).outcome).toBe('caught_up');
    expect(await live('tmap')).toEqual(['1', '2']);
    // A data error (22023) is still the row's own problem: dead-lettered, the rest staged.
    const dead = await listDeadLetters(staging.staging.db, { tenant: 'acme', system: 'tmap' });
    expect(dead.map((d) => [d.sourceId, d.errorKind])).toEqual([['3', 'mapping']]);
  });

  it('a lock timeout while probing the mapping on a Relation message is retried, not a stopped table', async () => {
    await src.pool.query(
      `CREATE TABLE lookup (id int PRIMARY KEY, label text); INSERT INTO lookup VALUES (1, 'L1')`,
    );
    await src.pool.query(`CREATE TABLE tl (id int PRIMARY KEY, name text, lid int)`);
    await src.pool.query(`INSERT INTO tl VALUES (1, 'a', 1)`);
    const lockUrl = `${src.url}${src.url.includes('?') ? '&' : '?'}options=${encodeURIComponent('-c lock_timeout=300ms')}`;
    const c = simple('tl', 'e_probe_lock', {
      fields: { name: 'name', company: { sql: '(SELECT label FROM lookup l WHERE l.id = t.lid)' } },
    });
    const cl = { ...c, connection: lockUrl };
    expect((await syncOnce(staging.staging, cl, { system: 'plock' })).outcome).toBe('caught_up');
    await src.pool.query(`INSERT INTO tl VALUES (2, 'b', 1)`);
    // Maintenance on the lookup table (VACUUM FULL, ALTER …) holds an exclusive lock for a while.
    const locker = new pg.Client({ connectionString: src.url });
    await locker.connect();
    try {
      await locker.query('BEGIN; LOCK TABLE lookup IN ACCESS EXCLUSIVE MODE');
      const run = startOnce(cl, 'plock');
      await until(
        'a retry after the lock timeout',
        () => run.states.filter((s) => s === 'backing-off').length >= 2,
      );
      await locker.query('ROLLBACK');
      const out = await run.done;
      expect(out).toMatchObject({ outcome: 'caught_up', stoppedTables: [] });
    } finally {
      await locker.end();
    }
    expect(await live('plock')).toEqual(['1', '2']);
    const dead = await listDeadLetters(staging.staging.db, { tenant: 'acme', system: 'plock' });
    expect(dead).toEqual([]);
  });

  it('a Relation message in the middle of a transaction (ADD COLUMN between changes) loses nothing', async () => {
    await src.pool.query(`CREATE TABLE rel (id int PRIMARY KEY, name text)`);
    const c = simple('rel', 'e_rel_mid', { fields: { name: 'name', email: { sql: "t.name || '@x'" } } });
    expect((await syncOnce(staging.staging, c, { system: 'relmid' })).outcome).toBe('caught_up');
    await src.pool.query(
      `BEGIN; INSERT INTO rel VALUES (1, 'a'); ALTER TABLE rel ADD COLUMN extra int; INSERT INTO rel VALUES (2, 'b', 5); UPDATE rel SET name = 'a2' WHERE id = 1; COMMIT`,
    );
    expect((await syncOnce(staging.staging, c, { system: 'relmid' })).outcome).toBe('caught_up');
    const res = await staging.staging.pool.query(
      `SELECT source_id, name, email FROM staging.customer WHERE system = 'relmid' AND deleted_at IS NULL ORDER BY 1`,
    );
    expect(res.rows).toEqual([
      { source_id: '1', name: 'a2', email: 'a2@x' },
      { source_id: '2', name: 'b', email: 'b@x' },
    ]);
  });
});

// The CDC startup check (sync-source.ts prepare, source-admin.ts ensurePublication) refuses to
// start where streaming would silently lose changes: a slot ahead of the staged checkpoint, a
// slot without a checkpoint, deletes that would not carry the key (REPLICA IDENTITY), a mapped
// column missing at start, `requireExisting` with nothing to require, and a slot another process
// reads (a slot gone after a checkpoint: cdc.test.ts). Each refusal names what to run.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { PostgresSystemConfig } from '../../../pipeline/connectors/postgres/config.js';
import { loadCheckpoint } from '../../../staging/checkpoints.js';
import { useTestDatabase } from '../../support/database.js';
import { syncOnce, systemConfig, until, useSourceDatabase } from '../../support/postgres.js';
import { stagedCount } from '../../support/staging.js';

const db = useTestDatabase('cdcguard');
const src = useSourceDatabase();

/** A customer table `name` (key id) with `rows` rows; `ddl` replaces the default definition. */
async function table(name: string, rows = 3, ddl = `id int PRIMARY KEY, name text, email text`) {
  await src.pool.query(`CREATE TABLE ${name} (${ddl})`);
  await src.pool.query(
    `INSERT INTO ${name} (id, name) SELECT i, 'n' || i FROM generate_series(1, ${rows}) AS i`,
  );
}

/** A config whose system, slot and publication are all called `name`. */
function config(name: string, extra: Record<string, unknown> = {}): PostgresSystemConfig {
  return systemConfig(src.url, {
    slot: name,
    publication: name,
    tables: [{ table: name, entity: 'customer', key: ['id'], fields: { name: 'name', email: 'email' } }],
    ...extra,
  });
}

const sync = (name: string, cfg = config(name), resnapshot = false) =>
  syncOnce(db.staging, cfg, { system: name, resnapshot });
const staged = (name: string) =>
  stagedCount(db.staging, { tenant: 'acme', entity: 'customer', system: name });
const checkpoint = (name: string) =>
  loadCheckpoint(db.staging.pool, { tenant: 'acme', system: name, stream: name }) as Promise<
    { lsn?: string } | undefined
  >;
async function slot(name: string) {
  const res = await src.pool.query(
    'SELECT active, confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
    [name],
  );
  return res.rows[0] as { active: boolean; lsn: string } | undefined;
}
async function publication(name: string) {
  return (await src.pool.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [name])).rows.length > 0;
}
const resnapshot = (name: string) => `trueup sync --tenant acme --system ${name} --resnapshot`;

describe('the slot and the staged checkpoint', () => {
  it('a slot ahead of the staged checkpoint is refused: its changes were acknowledged but not staged', async () => {
    await table('ahead');
    expect((await sync('ahead')).outcome).toBe('caught_up');
    const before = (await checkpoint('ahead'))!.lsn!;
    // Someone else consumes the slot past what trueup staged.
    await src.pool.query(`INSERT INTO ahead (id, name) VALUES (4, 'lost')`);
    await src.pool.query(`SELECT pg_replication_slot_advance('ahead', pg_current_wal_lsn())`);
    const out = await sync('ahead');
    expect(out.outcome).toBe('failed');
    expect(out.error?.name).toBe('SlotLostError');
    expect(out.error?.message).toMatch(
      /replication slot "ahead" is at [0-9A-F]+\/[0-9A-F]+, past the staged checkpoint/,
    );
    expect(out.error?.message).toContain(resnapshot('ahead'));
    // Nothing moved: the checkpoint, staging, and the slot is kept for the user to inspect.
    expect((await checkpoint('ahead'))!.lsn).toBe(before);
    expect(await staged('ahead')).toBe(3);
    expect(await slot('ahead')).toBeDefined();
    // The named remedy works.
    expect((await sync('ahead', config('ahead'), true)).outcome).toBe('caught_up');
    expect(await staged('ahead')).toBe(4);
  });

  it('a slot that exists without a checkpoint is refused (the rows before it are unknown)', async () => {
    await table('nockpt');
    await src.pool.query(`SELECT pg_create_logical_replication_slot('nockpt', 'pgoutput')`);
    const out = await sync('nockpt');
    expect(out.outcome).toBe('failed');
    expect(out.error?.message).toMatch(/slot "nockpt" exists but trueup has no checkpoint for it/);
    expect(out.error?.message).toContain(resnapshot('nockpt'));
    expect(await staged('nockpt')).toBe(0);
    expect(await checkpoint('nockpt')).toBeUndefined();
    expect((await sync('nockpt', config('nockpt'), true)).outcome).toBe('caught_up');
    expect(await staged('nockpt')).toBe(3);
  });
});

describe('what deletes carry (REPLICA IDENTITY)', () => {
  const refused =
    /deletes of public\.(\w+) would not carry its key \(id\); make the key the primary key or run ALTER TABLE .+ REPLICA IDENTITY FULL/;

  it.each([
    ['ri_nokey', 'id int, name text, email text', ''],
    [
      'ri_nothing',
      'id int PRIMARY KEY, name text, email text',
      'ALTER TABLE ri_nothing REPLICA IDENTITY NOTHING',
    ],
    ['ri_otherpk', 'id int UNIQUE NOT NULL, code text PRIMARY KEY, name text, email text', ''],
  ])('%s: refused before a slot or publication is made', async (name, ddl, alter) => {
    await src.pool.query(`CREATE TABLE ${name} (${ddl})`);
    if (alter) await src.pool.query(alter);
    const out = await sync(name);
    expect(out.outcome).toBe('failed');
    expect(out.error?.message).toMatch(refused);
    expect(out.error?.message).toContain(`tenant acme, system ${name}`);
    expect(await slot(name)).toBeUndefined();
    expect(await publication(name)).toBe(false);
  });

  it('accepted with REPLICA IDENTITY FULL, or an identity index on the key', async () => {
    await table('ri_full', 2, 'id int, name text, email text');
    await src.pool.query('ALTER TABLE ri_full REPLICA IDENTITY FULL');
    await table(
      'ri_index',
      2,
      'id int NOT NULL, code text PRIMARY KEY DEFAULT md5(random()::text), name text, email text',
    );
    await src.pool.query('CREATE UNIQUE INDEX ri_index_id ON ri_index (id)');
    await src.pool.query('ALTER TABLE ri_index REPLICA IDENTITY USING INDEX ri_index_id');
    for (const name of ['ri_full', 'ri_index']) {
      const out = await sync(name);
      expect(out.error?.message).toBeUndefined();
      await src.pool.query(`DELETE FROM ${name} WHERE id = 1`);
      expect((await sync(name)).outcome).toBe('caught_up');
      expect(await staged(name)).toBe(1);
    }
  });
});

describe('a mapped column missing at start', () => {
  it('is refused on a first start and on a re-snapshot, but left to the stream once it has a checkpoint', async () => {
    await table('nocol', 2, 'id int PRIMARY KEY, name text');
    const first = await sync('nocol');
    expect(first.outcome).toBe('failed');
    expect(first.error?.message).toMatch(
      /tenant acme, system nocol: table public\.nocol has no column "email"/,
    );
    expect(await slot('nocol')).toBeUndefined();
    expect(await staged('nocol')).toBe(0);

    await src.pool.query('ALTER TABLE nocol ADD COLUMN email text');
    expect((await sync('nocol')).outcome).toBe('caught_up');
    await src.pool.query(`UPDATE nocol SET email = 'a@x' WHERE id = 1`);
    await src.pool.query('ALTER TABLE nocol DROP COLUMN email');
    // Streaming: the change made while the column existed is still to be staged.
    const streamed = await sync('nocol');
    expect(streamed.error?.message ?? '').not.toMatch(/has no column/);
    const email = await db.staging.pool.query(
      `SELECT email FROM staging.customer WHERE tenant_id = 'acme' AND system = 'nocol' AND source_id = '1'`,
    );
    expect(email.rows[0]?.email).toBe('a@x');
    // A re-snapshot would read a column that is gone.
    const again = await sync('nocol', config('nocol'), true);
    expect(again.outcome).toBe('failed');
    expect(again.error?.message).toMatch(/table public\.nocol has no column "email"/);
  });
});

describe('requireExisting', () => {
  const strict = (name: string) => config(name, { requireExisting: true });

  it('refuses a missing publication, a publication lacking the table, and a missing slot; creates none', async () => {
    await table('req');
    let out = await sync('req', strict('req'));
    expect(out.outcome).toBe('failed');
    expect(out.error?.message).toMatch(/publication "req" does not exist and requireExisting is set/);
    expect(await publication('req')).toBe(false);

    await table('req_other');
    await src.pool.query('CREATE PUBLICATION req FOR TABLE req_other');
    out = await sync('req', strict('req'));
    expect(out.error?.message).toMatch(/publication "req" lacks public\.req/);
    const tables = await src.pool.query(`SELECT tablename FROM pg_publication_tables WHERE pubname = 'req'`);
    expect(tables.rows).toEqual([{ tablename: 'req_other' }]);

    await src.pool.query('ALTER PUBLICATION req ADD TABLE req');
    out = await sync('req', strict('req'));
    expect(out.error?.message).toMatch(/slot "req" does not exist and requireExisting is set/);
    expect(await slot('req')).toBeUndefined();
    expect(await staged('req')).toBe(0);
  });
});

describe('a slot another process reads', () => {
  it('is a transient error retried with backoff, then given up under --once; taken once it is free', async () => {
    await table('busy');
    expect((await sync('busy')).outcome).toBe('caught_up');
    // Another logical replication client (not trueup: it holds no claim) streams from the slot.
    const other = new pg.Client({ connectionString: src.url, replication: 'database' } as pg.ClientConfig);
    other.on('error', () => {});
    await other.connect();
    void other
      .query(`START_REPLICATION SLOT busy LOGICAL 0/0 (proto_version '1', publication_names 'busy')`)
      .catch(() => {});
    try {
      await until('the other client to read slot busy', async () => !!(await slot('busy'))?.active);
      const cfg = systemConfig(src.url, {
        ...config('busy'),
        stream: { backoffMinMs: 20, backoffMaxMs: 50, heartbeatSeconds: 0.2, onceRetryMs: 200 },
      });
      const out = await sync('busy', cfg);
      expect(out.outcome).toBe('failed');
      expect(out.error?.message).toMatch(
        /gave up after retrying for 200 ms under --once \(stream\.onceRetryMs\): slot "busy" is in use by another process/,
      );
      // A re-snapshot would drop the slot under the other reader: refused the same way.
      const re = await sync('busy', cfg, true);
      expect(re.error?.message).toMatch(/slot "busy" is in use by another process/);
      expect(await staged('busy')).toBe(3);
    } finally {
      await other.end().catch(() => {});
    }
    await src.pool.query(
      `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'busy'`,
    );
    await until('slot busy to be free', async () => !(await slot('busy'))?.active);
    await src.pool.query(`INSERT INTO busy (id, name) VALUES (4, 'n4')`);
    expect((await sync('busy')).outcome).toBe('caught_up');
    expect(await staged('busy')).toBe(4);
  });
});

// The postgres bounded re-read (backfill) racing the CDC stream of the same table: inserts,
// updates and deletes commit while the chunked keyset read runs, by ids and by a window on
// updatedAt. A trigger on the staging table records every update that lowered a row's version;
// none may happen, and staging ends equal to the source.
import { describe, expect, it } from 'vitest';
import { rereadSystem } from '../../../pipeline/connectors/stream-runner.js';
import { listCheckpoints } from '../../../staging/checkpoints.js';
import { useTestDatabase } from '../../support/database.js';
import { quietLogger, runRecorded, systemConfig, until, useSourceDatabase } from '../../support/postgres.js';

const ROWS = 5_000;
const t = useTestDatabase('bfrace');
const src = useSourceDatabase();

const config = () =>
  systemConfig(src.url, {
    slot: 'bfrace',
    publication: 'bfrace',
    tables: [
      {
        table: 'items',
        entity: 'customer',
        key: ['id'],
        fields: { name: 'name', credit_limit: { sql: 'round(amount, 2)' } },
        updatedAt: 'updated',
      },
    ],
  });

async function sourceRows(): Promise<string[]> {
  const res = await src.pool.query(`SELECT id || ':' || name || ':' || trim_scale(round(amount, 2)) AS r
                                      FROM items ORDER BY id`);
  return res.rows.map((r) => r.r as string);
}
async function stagedRows(): Promise<string[]> {
  const res = await t.staging.pool.query(
    `SELECT source_id || ':' || name || ':' || trim_scale(credit_limit) AS r FROM staging.customer
      WHERE tenant_id = 'acme' AND system = 'erp' AND deleted_at IS NULL ORDER BY source_id::int`,
  );
  return res.rows.map((r) => r.r as string);
}

describe('postgres backfill racing CDC', () => {
  it('re-reads by ids and by window while the stream stages writes; no version goes down, staging equals the source', async () => {
    await src.pool.query(`CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, amount numeric NOT NULL,
                            updated timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await src.pool.query(
      `INSERT INTO items (id, name, amount) SELECT g, 'n' || g, g * 1.005 FROM generate_series(1, $1) g`,
      [ROWS],
    );
    const cfg = config();
    const cdc = runRecorded(t.staging, cfg, { tenant: 'acme', system: 'erp' });
    try {
      await until('the snapshot is staged', async () => (await stagedRows()).length === ROWS, 60_000);

      // Staging drifted behind the source's back (older versions): only a re-read puts these back.
      const drifted = Array.from({ length: 50 }, (_v, i) => String(ROWS - i * 7));
      await t.staging.pool.query(
        `UPDATE staging.customer SET name = 'drifted', version = version - 1
          WHERE tenant_id = 'acme' AND system = 'erp' AND source_id = ANY($1::text[])`,
        [drifted],
      );
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
        CREATE TRIGGER audit_version BEFORE UPDATE ON staging.customer
          FOR EACH ROW EXECUTE FUNCTION public.audit_version();`);
      const checkpoints = await listCheckpoints(t.staging.db, 'acme');

      let writing = true;
      let ops = 0;
      const writer = (async () => {
        let next = ROWS + 1;
        while (writing) {
          const id = 1 + Math.floor(Math.random() * ROWS);
          await src.pool.query(`BEGIN;
            INSERT INTO items (id, name, amount) VALUES (${next++}, 'new', 1);
            UPDATE items SET name = 'upd ' || ${ops}, amount = amount + 1, updated = clock_timestamp() WHERE id = ${id};
            DELETE FROM items WHERE id = ${id + 1};
            UPDATE items SET name = 'again', updated = clock_timestamp() WHERE id = ${drifted[ops % drifted.length]};
            COMMIT`);
          ops++;
        }
      })();

      const deps = { staging: t.staging, logger: quietLogger() };
      const ids = [...drifted, ...Array.from({ length: 3_000 }, (_v, i) => String(i + 1)), '999999'];
      const [byIds, byWindow] = await Promise.all([
        rereadSystem(deps, 'acme', 'erp', cfg, { entity: 'customer', ids }),
        rereadSystem(deps, 'acme', 'erp', cfg, {
          entity: 'customer',
          window: { from: '2000-01-01T00:00:00.000Z', to: '2100-01-01T00:00:00.000Z' },
        }),
      ]);
      await until('some writes raced the re-read', () => ops >= 20, 30_000);
      writing = false;
      await writer;

      expect(byIds.status, byIds.error ?? byIds.streams[0]?.detail).toBe('completed');
      expect(byWindow.status, byWindow.error ?? byWindow.streams[0]?.detail).toBe('completed');
      expect(byIds.streams[0]!.received).toBeGreaterThan(2_000);
      expect(byWindow.streams[0]!.received).toBeGreaterThanOrEqual(ROWS - ops);
      // The drifted rows nobody wrote meanwhile were put back by the re-reads.
      expect(byIds.streams[0]!.updated + byWindow.streams[0]!.updated).toBeGreaterThan(0);

      const expected = await sourceRows();
      await until(
        'staging equals the source',
        async () => {
          const staged = await stagedRows();
          return staged.length === expected.length && staged.every((r, i) => r === expected[i]);
        },
        60_000,
      );
      const audit = await t.staging.pool.query('SELECT * FROM public.version_audit');
      expect(audit.rows).toEqual([]);
      // The re-reads moved no checkpoint (the stream's own may have moved on).
      const after = await listCheckpoints(t.staging.db, 'acme');
      expect(after.map((c) => c.stream).sort()).toEqual(checkpoints.map((c) => c.stream).sort());
      // The temporary slots went with their connections; only the stream's slot is left.
      const slots = await src.pool.query(
        'SELECT slot_name FROM pg_replication_slots WHERE database = current_database()',
      );
      expect(slots.rows.map((r) => r.slot_name)).toEqual(['bfrace']);
    } finally {
      cdc.abort.abort();
      await cdc.done;
    }
  }, 120_000);

  it('a window needs a mapped updatedAt', async () => {
    const cfg = systemConfig(src.url, {
      slot: 'bfrace2',
      publication: 'bfrace2',
      tables: [{ table: 'items', entity: 'customer', key: ['id'], fields: { name: 'name' } }],
    });
    const r = await rereadSystem({ staging: t.staging, logger: quietLogger() }, 'acme', 'erp2', cfg, {
      entity: 'customer',
      window: { from: '2000-01-01T00:00:00.000Z', to: '2100-01-01T00:00:00.000Z' },
    });
    expect(r.status).toBe('failed');
    expect(r.streams[0]!.detail).toMatch(/maps no updatedAt.*re-read it by ids/);
  });
});

// A table mapped to several entities (fan-out): stream.chunkRows counts source changes, not the
// rows they fan out to, so a table feeding two entities still flushes a chunk every chunkRows
// changes (and the changes of one source row stay in one chunk).
import { describe, expect, it } from 'vitest';
import { runSource } from '../../../pipeline/connectors/postgres/sync-source.js';
import { useTestDatabase } from '../../support/database.js';
import { quietLogger, syncOnce, systemConfig, useSourceDatabase } from '../../support/postgres.js';

const staging = useTestDatabase('cdcfanout');
const src = useSourceDatabase();

async function live(entity: 'order' | 'customer'): Promise<number> {
  const res = await staging.staging.pool.query(
    `SELECT count(*)::int AS n FROM staging.${entity} WHERE tenant_id = 'acme' AND system = 'fanout' AND deleted_at IS NULL`,
  );
  return res.rows[0].n as number;
}

describe('postgres CDC: chunkRows with one table feeding two entities', () => {
  it('a chunk is flushed after chunkRows source changes, each holding the rows of every mapping', async () => {
    const k = 10;
    await src.pool.query(`CREATE TABLE fo (id int PRIMARY KEY, name text)`);
    const c = systemConfig(src.url, {
      slot: 'f_fan_out',
      publication: 'f_fan_out',
      // maxGroupDelayMs 0: every source transaction commits (and flushes what it holds) at its end.
      stream: {
        chunkRows: k,
        maxGroupDelayMs: 0,
        heartbeatSeconds: 0.2,
        backoffMinMs: 50,
        backoffMaxMs: 500,
        claimRetryMs: 100,
      },
      tables: [
        { table: 'fo', entity: 'order', key: ['id'], fields: { number: 'name' } },
        { table: 'fo', entity: 'customer', key: ['id'], fields: { name: 'name' } },
      ],
    });
    expect((await syncOnce(staging.staging, c, { system: 'fanout' })).outcome).toBe('caught_up');

    // One source transaction of 2.5 × k inserts, then one of k key-changing updates (each a
    // tombstone of the old key and a new row, for each mapping).
    await src.pool.query(`INSERT INTO fo SELECT g, 'n' || g FROM generate_series(1, ${2 * k + k / 2}) g`);
    await src.pool.query(`UPDATE fo SET id = id + 1000 WHERE id <= ${k}`);
    const chunks: { changes: number; rows: number }[] = [];
    const out = await runSource({
      tenant: 'acme',
      system: 'fanout',
      config: c,
      staging: staging.staging,
      logger: quietLogger(),
      once: true,
      onChunk: (x) => chunks.push(x),
    });
    expect(out.error?.message).toBeUndefined();
    expect(out.outcome).toBe('caught_up');
    expect(chunks).toEqual([
      // inserts: k, k, k/2 changes, two rows each
      { changes: k, rows: 2 * k },
      { changes: k, rows: 2 * k },
      { changes: k / 2, rows: k },
      // key changes: k changes, four rows each
      { changes: k, rows: 4 * k },
    ]);
    expect(await live('order')).toBe(2 * k + k / 2);
    expect(await live('customer')).toBe(2 * k + k / 2);
  });
});

// The write path asks "is any key of this batch staged yet?" with one primary-key probe per row
// when the cheaper tests cannot tell (write-changes.ts unstagedSql). On a table without
// statistics — a new tenant's first batches — the planner once took another index's
// (tenant_id, system) prefix for that probe and read every staged row of the stream per row of
// the batch: quadratic (a 25,000-record HubSpot load took a minute). The probes must stay
// primary-key lookups: the other indexes of the table are not read at all.
import pg from 'pg';
import { expect, it } from 'vitest';
import { stageUnitIn } from '../../staging/stage.js';
import { useTestDatabase } from '../support/database.js';
import { up } from '../support/fixtures.js';

const t = useTestDatabase('probe_plan');

it('per-row probes of a batch interleaved with staged keys use the primary key, not a prefix scan', async () => {
  const client = new pg.Client({ connectionString: t.url });
  await client.connect();
  try {
    const key = (i: number) => `K${String(i).padStart(6, '0')}`;
    const batch = async (parity: number) => {
      await client.query('BEGIN');
      await stageUnitIn(client, {
        tenant: 'probe',
        system: 'crm',
        batches: [
          {
            entity: 'customer',
            changes: Array.from({ length: 1000 }, (_v, i) => up(key(2 * i + parity), 1n, { name: `n${i}` })),
          },
        ],
      });
      await client.query('COMMIT');
    };
    await batch(0);
    // Odd keys between the staged even ones: the range test finds staged keys, so every row is
    // probed by key.
    await batch(1);
    await client.query('SELECT pg_stat_force_next_flush()');
    const { rows } = await client.query<{ index: string; read: string }>(
      `SELECT indexrelname AS index, idx_tup_read::text AS read FROM pg_stat_user_indexes
        WHERE schemaname = 'staging' AND relname = 'customer' AND indexrelname <> 'customer_pkey'`,
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(Number(r.read), r.index).toBeLessThan(1000);
    const staged = await client.query(
      `SELECT count(*)::int AS n FROM staging.customer WHERE tenant_id = 'probe'`,
    );
    expect(staged.rows[0].n).toBe(2000);
  } finally {
    await client.end();
  }
});

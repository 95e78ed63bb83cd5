// Review: accepting discrepancies while a run writes the same tenant × entity's results. Both
// lock discrepancy rows; without the run's named lock (lockEntityResults) taken first, accept and
// the run's upsert lock the rows in different orders and deadlock (one of them fails).
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { writeResults } from '../../reconcilers/lifecycle/write-results.js';
import { acceptDiscrepancies } from '../../staging/control/discrepancies.js';
import { useTestDatabase } from '../support/database.js';
import {
  csvTenantConfig,
  dataDir,
  reconcile,
  removeDataDirs,
  stageRows,
  storedDiscrepancies,
} from './helpers.js';

const db = useTestDatabase('review_accept_lock');
afterAll(async () => {
  await removeDataDirs();
});

/** Waits until `n` sessions of the database wait on a lock. */
async function waitForLockWaiters(n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await db.staging.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    if ((rows[0]?.n ?? 0) >= n) return;
    if (Date.now() > deadline) throw new Error(`fewer than ${n} sessions wait on a lock`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

it('accepting while a run writes the same entity serialises with the run instead of deadlocking', async () => {
  const t = 'lck';
  const cfg = csvTenantConfig(t);
  await stageRows(db, t, 'crm', 'customer', [{ id: 'C1', name: 'Acme', email: 'a@x.test', phone: '111' }]);
  await stageRows(db, t, 'erp', 'customer', [
    { id: 'E1', crm_ref: 'C1', name: 'Acme Holding', email: 'b@x.test', phone: '222' },
  ]);
  const s = await reconcile(db, await dataDir(), t, cfg, { entities: ['customer'], mode: 'full' });
  expect(s.errors).toEqual([]);
  const rows = await storedDiscrepancies(db, t);
  expect(rows.map((r) => r.found.field)).toHaveLength(3);
  const [a, b, c] = rows as [(typeof rows)[number], (typeof rows)[number], (typeof rows)[number]];

  // A third session holds the middle discrepancy: the acceptance locks the first and waits.
  const holder = new pg.Client({ connectionString: db.url });
  await holder.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM control.discrepancies WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [
      t,
      b.id,
    ]);
    const accepting = acceptDiscrepancies(db.staging.db, {
      tenant: t,
      ids: [a.id, b.id, c.id],
      by: 'alice',
      reason: 'known',
      systems: { crm: 'crm', erp: 'erp' },
    }).then(
      () => 'ok',
      (err: Error) => err.message,
    );
    await waitForLockWaiters(1);
    // The run writes the last discrepancy first, then the first one.
    const writing = writeResults(db.staging.pool, {
      tenant: t,
      entity: 'customer',
      runId: 'run-while-accepting',
      discrepancies: [c.found, a.found],
      planActions: () => [],
      policy: 'propose',
      systems: { crm: 'crm', erp: 'erp' },
      resolvedInFlight: [],
    }).then(
      () => 'ok',
      (err: Error) => err.message,
    );
    await waitForLockWaiters(2);
    await holder.query('COMMIT');
    expect(await Promise.all([accepting, writing])).toEqual(['ok', 'ok']);
  } finally {
    await holder.end();
  }
  const after = await db.staging.pool.query(
    `SELECT field, status FROM control.discrepancies WHERE tenant_id = $1 ORDER BY id`,
    [t],
  );
  expect(after.rows.filter((r) => r.field === a.found.field || r.field === c.found.field)).toEqual([
    { field: a.found.field, status: 'accepted' },
    { field: c.found.field, status: 'accepted' },
  ]);
}, 30_000);

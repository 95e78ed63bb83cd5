// A reviewer accepts a discrepancy while a run is comparing: the run's write must see the
// acceptance and propose no correction for it. The accepted identities are read inside the write
// transaction, after the run's discrepancies are upserted (lifecycle/write-results.ts), not before it.
import { afterAll, expect, it } from 'vitest';
import { identityOf } from '../../reconcilers/classify/classify.js';
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

const db = useTestDatabase('recon_accept_race');
afterAll(async () => {
  await removeDataDirs();
});

it('an acceptance committed before the write is seen by the write, which plans no action for it', async () => {
  const t = 'race';
  const cfg = csvTenantConfig(t);
  await stageRows(db, t, 'crm', 'customer', [{ id: 'C1', email: 'a@x.test', phone: '111' }]);
  await stageRows(db, t, 'erp', 'customer', [{ id: 'E1', crm_ref: 'C1', email: 'a@x.test', phone: '222' }]);
  const s = await reconcile(db, await dataDir(), t, cfg, { entities: ['customer'], mode: 'full' });
  expect(s.errors).toEqual([]);
  const stored = await storedDiscrepancies(db, t, 'phone');
  expect(stored).toHaveLength(1);
  const { id, found } = stored[0]!;
  // The run has compared and planned (it found the phone mismatch); now the reviewer accepts.
  await acceptDiscrepancies(db.staging.db, {
    tenant: t,
    ids: [id],
    by: 'alice',
    reason: 'known',
    systems: { crm: 'crm', erp: 'erp' },
  });
  let seen: ReadonlySet<string> = new Set();
  const out = await writeResults(db.staging.pool, {
    tenant: t,
    entity: 'customer',
    runId: 'run-during-accept',
    discrepancies: [found],
    planActions: (accepted) => {
      seen = accepted;
      return [];
    },
    policy: 'propose',
    systems: { crm: 'crm', erp: 'erp' },
    resolvedInFlight: [],
  });
  expect([...seen]).toEqual([identityOf(found)]);
  expect(out.actionsPlanned).toBe(0);
  const status = await db.staging.pool.query(
    `SELECT status FROM control.discrepancies WHERE tenant_id = $1 AND field = 'phone'`,
    [t],
  );
  expect(status.rows).toEqual([{ status: 'accepted' }]);
  const live = await db.staging.pool.query(
    `SELECT id FROM control.actions WHERE tenant_id = $1 AND status IN ('proposed', 'approved')`,
    [t],
  );
  expect(live.rowCount).toBe(0);
});

// A run whose summary.json or final control.runs update fails must not stay `running`: the run
// ends as `failed` with the error (best effort), and the caller still hears of the failure.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { jobHooks } from '../../reconcilers/job/reconcile-job.js';
import { useTestDatabase } from '../support/database.js';
import { csvTenantConfig, dataDir, reconcile, removeDataDirs, stageRows } from './helpers.js';

const db = useTestDatabase('recon_run_row');
afterAll(async () => {
  jobHooks.afterRefresh = undefined;
  await removeDataDirs();
});

it('ends the run as failed when summary.json cannot be written', async () => {
  const t = 'nosummary';
  await stageRows(db, t, 'crm', 'customer', [{ id: 'C1', name: 'Acme', erp_ref: 'E1' }]);
  await stageRows(db, t, 'erp', 'customer', [{ id: 'E1', name: 'Acme' }]);
  const dir = await dataDir();
  // A folder where summary.json should go: writing the file fails (EISDIR), even as root.
  jobHooks.afterRefresh = async (job) => {
    await mkdir(join(dir, 'runs', job.tenant, job.runId, 'summary.json'), { recursive: true });
  };
  try {
    await expect(reconcile(db, dir, t, csvTenantConfig(t), { entities: ['customer'] })).rejects.toThrow(
      /EISDIR/,
    );
  } finally {
    jobHooks.afterRefresh = undefined;
  }
  const { rows } = await db.staging.pool.query<{ status: string; error: string; finished: boolean }>(
    `SELECT status, error, finished_at IS NOT NULL AS finished FROM control.runs WHERE tenant_id = $1`,
    [t],
  );
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ status: 'failed', finished: true });
  expect(rows[0]!.error).toMatch(/summary\.json.*EISDIR/);
});

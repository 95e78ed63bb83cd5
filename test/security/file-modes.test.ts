// Files holding tenant data are private whatever the process umask: a reconcile's data folder
// (run folder, summary.json, mirrors, DuckDB's temp folder) and a run's report files are 0700
// folders and 0600 files even with a permissive umask (022), as an embedding program might have.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileTenant } from '../../reconcilers/run/reconcile-tenant.js';
import { REPORT_FILES, writeRunReports } from '../../reports/write-run-reports.js';
import { csvTenantConfig, dataDir, pool, removeDataDirs, stageRows } from '../reconcilers/helpers.js';
import { useTestDatabase } from '../support/database.js';

const t = useTestDatabase('modes');
let previous = 0;
beforeAll(() => {
  previous = process.umask(0o022);
});
afterAll(async () => {
  process.umask(previous);
  await removeDataDirs();
});

/** Every entry under `dir` with its permission bits, as `relative path: mode` (octal). */
async function modes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await readdir(dir, { recursive: true })) {
    const s = await lstat(join(dir, name));
    out[name] = `${s.isDirectory() ? 'dir' : 'file'} ${(s.mode & 0o777).toString(8)}`;
  }
  return out;
}

describe('file modes', () => {
  it("a reconcile's data folder and a run's reports are 0700 folders and 0600 files", async () => {
    await stageRows(t, 'fm', 'crm', 'customer', [
      { id: 'c1', name: 'A' },
      { id: 'c2', name: 'B' },
    ]);
    await stageRows(t, 'fm', 'erp', 'customer', [{ id: 'e1', name: 'A' }]);
    const dir = await dataDir();
    const s = await reconcileTenant({
      tenant: 'fm',
      tenantConfig: csvTenantConfig('fm'),
      staging: t.staging,
      stagingUrl: t.url,
      dataDir: dir,
      pool,
      entities: ['customer'],
      confirm: { waitMs: 0 },
      duckdbThreads: 1,
    });
    expect(s.errors).toEqual([]);
    await writeRunReports(t.staging.pool, {
      tenant: 'fm',
      runId: s.runId,
      systems: { crm: 'crm', erp: 'erp' },
      dir: s.outputDir,
    });
    const seen = await modes(dir);
    const names = Object.keys(seen);
    // What there is to check: the run folder, summary.json, every report, the mirror.
    expect(names).toEqual(
      expect.arrayContaining([
        'runs',
        join('runs', 'fm', s.runId, 'summary.json'),
        ...REPORT_FILES.map((f) => join('runs', 'fm', s.runId, f)),
        join('mirrors', 'fm', 'customer.duckdb'),
        join('mirrors', 'fm', 'customer.duckdb.tmp'),
      ]),
    );
    const wrong = Object.entries(seen).filter(([, m]) => m !== 'dir 700' && m !== 'file 600');
    expect(wrong).toEqual([]);
  });
});

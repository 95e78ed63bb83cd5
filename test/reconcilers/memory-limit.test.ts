// DuckDB's memory_limit per reconcile job (reconcilers/duckdb/memory-limit.ts): the configured
// `reconcile.memoryLimit`, else half the usable RAM split across the pool's threads, applied when
// the job opens its mirror — read back inside the job with current_setting('memory_limit').
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../pipeline/config/load-config.js';
import { defaultMemoryLimit, jobMemoryLimit } from '../../reconcilers/duckdb/memory-limit.js';
import { jobHooks } from '../../reconcilers/job/reconcile-job.js';
import { useTestDatabase } from '../support/database.js';
import { csvTenantConfig, dataDir, reconcile, removeDataDirs, stageRows } from './helpers.js';

const t = useTestDatabase('memlimit');
afterEach(() => {
  jobHooks.afterRefresh = undefined;
});
afterAll(removeDataDirs);

/** How DuckDB shows a limit (current_setting rounds it to a readable unit). */
async function shown(limit: string): Promise<string> {
  const i = await DuckDBInstance.create(':memory:', { memory_limit: limit, threads: '1' });
  const c = await i.connect();
  const r = await c.runAndReadAll(`SELECT current_setting('memory_limit') AS m`);
  const m = String(r.getRowObjects()[0]?.m);
  c.closeSync();
  i.closeSync();
  return m;
}

async function jobLimit(extra: { memoryLimit?: string }): Promise<string[]> {
  const seen: string[] = [];
  jobHooks.afterRefresh = async (_job, duck) => {
    const r = await duck.rows<{ m: string }>(`SELECT current_setting('memory_limit') AS m`);
    seen.push(String(r[0]?.m));
  };
  const s = await reconcile(t, await dataDir(), 'mem', csvTenantConfig('mem'), {
    entities: ['customer'],
    ...extra,
  });
  expect(s.errors).toEqual([]);
  return seen;
}

describe('DuckDB memory_limit per reconcile job', () => {
  it('applies the configured limit when the job opens its mirror', async () => {
    await stageRows(t, 'mem', 'crm', 'customer', [{ id: 'c1', name: 'A' }]);
    await stageRows(t, 'mem', 'erp', 'customer', [{ id: 'e1', name: 'A' }]);
    expect(await jobLimit({ memoryLimit: '512MiB' })).toEqual(['512.0 MiB']);
    // Another limit on the next run reopens the mirror with it (the limit is per DuckDB instance).
    expect(await jobLimit({ memoryLimit: '300MiB' })).toEqual(['300.0 MiB']);
  });

  it('defaults to half the RAM split across the pool threads', async () => {
    // The test pool has one thread.
    expect(await jobLimit({})).toEqual([await shown(defaultMemoryLimit(1))]);
    const gib = 2 ** 30;
    expect(defaultMemoryLimit(4, 16 * gib)).toBe('2048MiB');
    expect(defaultMemoryLimit(2, 16 * gib)).toBe('4096MiB');
    expect(defaultMemoryLimit(64, 1 * gib)).toBe('256MiB'); // floor
  });

  it('refuses a limit that is not a size, in the config and in the API', () => {
    expect(jobMemoryLimit(' 2GB ', 2)).toBe('2GB');
    expect(() => jobMemoryLimit('lots', 2)).toThrow(/reconcile.memoryLimit "lots" is not a size/);
    expect(() => jobMemoryLimit("1GB'; ATTACH 'x", 2)).toThrow(/not a size/);
    expect(validateConfig({ reconcile: { memoryLimit: '3GB' } }, 'test', {}).reconcile.memoryLimit).toBe(
      '3GB',
    );
    expect(() => validateConfig({ reconcile: { memoryLimit: '80 percent' } }, 'test', {})).toThrow(
      /memoryLimit/,
    );
  });
});

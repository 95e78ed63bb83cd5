// CSV drop folders read regular files only: a symlink (to a secret elsewhere, or to another
// tenant's drop) is skipped with a warning and never staged.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncSystem } from '../../pipeline/connectors/stream-runner.js';
import { createLogger } from '../../pipeline/log/logger.js';
import { useTestDatabase } from '../support/database.js';

const t = useTestDatabase('seccsv');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trueup-seccsv-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('csv drop folder', () => {
  it('skips a symlink with a warning and stages the regular file', async () => {
    const folder = join(dir, 'sym', 'customer');
    await mkdir(folder, { recursive: true });
    await mkdir(join(dir, 'outside'));
    await writeFile(join(dir, 'outside', 'secret.csv'), 'id,name\nS1,Secret\n');
    await writeFile(join(folder, 'a.csv'), 'id,name\nC1,Acme\n');
    await symlink(join(dir, 'outside', 'secret.csv'), join(folder, 'b.csv'));
    const lines: string[] = [];
    const logger = createLogger({ level: 'warn', destination: { write: (l: string) => lines.push(l) } });
    const report = await syncSystem({ staging: t.staging, logger }, 'sym', 'legacy', {
      kind: 'csv',
      role: 'erp',
      dropDir: join(dir, '{tenant}'),
    });
    expect(report.status).toBe('completed');
    const staged = await t.staging.pool.query(
      `SELECT source_id FROM staging.customer WHERE tenant_id = 'sym'`,
    );
    expect(staged.rows).toEqual([{ source_id: 'C1' }]);
    expect(lines.join('\n')).toMatch(/symlink in a drop folder is not read; skipped/);
  });
});

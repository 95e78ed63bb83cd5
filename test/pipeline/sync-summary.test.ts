// The one-line summary `trueup sync` prints per pass (describeReport): a delete that changed
// staging counts once among the staged rows, a delete that changed nothing (a replay) not at all.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncSystem } from '../../pipeline/connectors/stream-runner.js';
import { describeReport } from '../../pipeline/connectors/sync-report.js';
import { createLogger } from '../../pipeline/log/logger.js';
import { useTestDatabase } from '../support/database.js';

const t = useTestDatabase('syncsummary');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trueup-summary-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('trueup sync summary line', () => {
  it('counts a staged delete once, and an ignored (replayed) delete not at all', async () => {
    const deps = { staging: t.staging, logger: createLogger({ level: 'silent' }) };
    const folder = join(dir, 'sum', 'customer');
    await mkdir(folder, { recursive: true });
    const cfg = {
      kind: 'csv',
      role: 'erp',
      dropDir: join(dir, '{tenant}'),
      entities: { customer: { deleteColumn: 'deleted', versionColumn: 'v' } },
    };
    await writeFile(join(folder, 'a.csv'), 'id,name,deleted,v\nC1,ok,,1\nC2,ok,,1\n');
    const first = await syncSystem(deps, 'sum', 'legacy', cfg);
    expect(describeReport(first)).toMatch(/2 received, 2 staged, 0 dead-lettered/);
    await writeFile(join(folder, 'b.csv'), 'id,name,deleted,v\nC1,ok,x,2\n');
    const del = await syncSystem(deps, 'sum', 'legacy', cfg);
    expect(describeReport(del)).toMatch(/1 received, 1 staged/);
    const replay = await syncSystem(deps, 'sum', 'legacy', cfg, { mode: 'full' });
    expect(describeReport(replay)).toMatch(/3 received, 0 staged/);
  });

  it('a continuous source (CDC) says where it reads and how it ended', () => {
    const base = { tenant: 'acme', system: 'erp', kind: 'postgres', streams: [], requests: 0, retries: 0 };
    const cdc = { ...base, throttled: 0, durationMs: 5, detail: 'slot trueup_acme_erp' };
    expect(describeReport({ ...cdc, status: 'completed' })).toBe(
      'acme/erp (postgres, slot trueup_acme_erp): caught up',
    );
    expect(
      describeReport({ ...cdc, status: 'failed', error: 'slot "x" is being read by another trueup sync' }),
    ).toBe(
      'acme/erp (postgres, slot trueup_acme_erp): failed — slot "x" is being read by another trueup sync',
    );
  });
});

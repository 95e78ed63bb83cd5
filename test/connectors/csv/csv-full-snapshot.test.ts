// `snapshot: full` CSV entities (issue 12): each complete nightly export is the whole truth, so a
// record absent from it is tombstoned in the transaction that records the file, and the false
// missing_in_crm it caused goes away; a truncated export (under minSnapshotShare of the live
// records) is refused: a dead letter, nothing tombstoned, the stream failed; a file cut short by
// a parse error tombstones nothing.
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import { loadCheckpoint } from '../../../staging/checkpoints.js';
import { listDeadLetters } from '../../../staging/control/dead-letters.js';
import {
  csvTenantConfig,
  dataDir,
  openKeys,
  reconcile,
  removeDataDirs,
  stageRows,
} from '../../reconcilers/helpers.js';
import { useTestDatabase } from '../../support/database.js';

const t = useTestDatabase('csvfull');
let dir: string;
const logger = createLogger({ level: 'silent' });
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trueup-csvfull-'));
});
afterAll(async () => {
  await removeDataDirs();
  await rm(dir, { recursive: true, force: true });
});

let night = 0;
/** The next nightly export (each a day newer than the last). */
async function exportFile(tenant: string, ids: readonly string[], tail = '') {
  const folder = join(dir, tenant, 'customer');
  await mkdir(folder, { recursive: true });
  const path = join(folder, `export-${++night}.csv`);
  await writeFile(
    path,
    `id,name,crm_ref\n${ids.map((id) => `${id},Firm ${id},C${id.slice(1)}`).join('\n')}\n${tail}`,
  );
  const at = new Date(Date.UTC(2025, 0, night));
  await utimes(path, at, at);
}

const cfg = {
  kind: 'csv',
  role: 'erp',
  dropDir: join('{dir}', '{tenant}'),
  entities: { customer: { snapshot: 'full' } },
};
const sync = (tenant: string) =>
  syncSystem({ staging: t.staging, logger }, tenant, 'erp', { ...cfg, dropDir: join(dir, '{tenant}') });

async function live(tenant: string): Promise<string[]> {
  const res = await t.staging.pool.query(
    `SELECT source_id FROM staging.customer WHERE tenant_id = $1 AND system = 'erp' AND deleted_at IS NULL ORDER BY 1`,
    [tenant],
  );
  return res.rows.map((r) => r.source_id);
}

describe('csv snapshot: full', () => {
  it('a record absent from the next full export is tombstoned; no discrepancy remains', async () => {
    const tenant = 'nightly';
    const six = ['E1', 'E2', 'E3', 'E4', 'E5', 'E6'];
    await stageRows(
      t,
      tenant,
      'crm',
      'customer',
      six.slice(0, 5).map((id) => ({ id: `C${id.slice(1)}`, name: `Firm ${id}` })),
    );
    await exportFile(tenant, six);
    expect((await sync(tenant)).status).toBe('completed');
    const tcfg = csvTenantConfig(tenant);
    const dirA = await dataDir();
    await reconcile(t, dirA, tenant, tcfg, { entities: ['customer'], mode: 'full' });
    expect(await openKeys(t, tenant)).toEqual(['customer missing_in_crm E:E6 ']);

    // E6 was deleted in the ERP: the next night's export lacks it.
    await exportFile(tenant, six.slice(0, 5));
    const second = await sync(tenant);
    expect(second.status).toBe('completed');
    expect(second.entities).toEqual([
      expect.objectContaining({ entity: 'customer', read: 5, staged: 5, tombstones: 1 }),
    ]);
    expect(await live(tenant)).toEqual(six.slice(0, 5));
    await reconcile(t, dirA, tenant, tcfg, { entities: ['customer'] });
    expect(await openKeys(t, tenant)).toEqual([]);

    // A truncated export (2 of 5 live records, under the default 50 %) is refused.
    await exportFile(tenant, ['E1', 'E2']);
    const third = await sync(tenant);
    expect(third.status).toBe('failed');
    expect(third.streams[0]!.detail).toMatch(
      /export-3\.csv: a full snapshot of 2 row\(s\), under 50% of the 5 live staged customer records: refused as a probable partial export, nothing was tombstoned/,
    );
    expect(await live(tenant)).toEqual(six.slice(0, 5));
    const dead = await listDeadLetters(t.staging.db, { tenant });
    expect(dead.map((d) => d.errorKind)).toEqual(['partial_export']);
    // The file is recorded: a re-run does not read (or refuse) it again.
    expect(
      (
        (await loadCheckpoint(t.staging.pool, { tenant, system: 'erp', stream: 'customer' })) as {
          processed: string[];
        }
      ).processed,
    ).toHaveLength(3);
    expect((await sync(tenant)).status).toBe('completed');
  });

  it('a file cut short by a parse error tombstones nothing', async () => {
    const tenant = 'cut';
    await exportFile(tenant, ['E1', 'E2', 'E3', 'E4']);
    await sync(tenant);
    // An unterminated quote after E2: E3 and E4 are not read, so they must not be tombstoned.
    await exportFile(tenant, ['E1', 'E2'], 'E3,"unterminated\nE4,x,C4\n');
    const r = await sync(tenant);
    expect(r.entities).toEqual([expect.objectContaining({ entity: 'customer', tombstones: 0 })]);
    expect(await live(tenant)).toEqual(['E1', 'E2', 'E3', 'E4']);
    const dead = await listDeadLetters(t.staging.db, { tenant });
    expect(dead.map((d) => d.errorMessage)).toEqual([expect.stringMatching(/nothing was tombstoned/)]);
  });

  it('the share is configurable; ids of rows that fail to map are not tombstoned', async () => {
    const tenant = 'share';
    const config = {
      ...cfg,
      dropDir: join(dir, '{tenant}'),
      entities: { customer: { snapshot: 'full', minSnapshotShare: 0.2 } },
    };
    await exportFile(tenant, ['E1', 'E2', 'E3', 'E4', 'E5']);
    await syncSystem({ staging: t.staging, logger }, tenant, 'erp', config);
    // E2's row is bad this time (a NUL byte): still in the file, so still live.
    const folder = join(dir, tenant, 'customer');
    const path = join(folder, 'export-late.csv');
    await writeFile(path, 'id,name,crm_ref\nE1,Firm E1,C1\nE2,Bad\u0000,C2\n');
    const at = new Date(Date.UTC(2025, 1, 1));
    await utimes(path, at, at);
    const r = await syncSystem({ staging: t.staging, logger }, tenant, 'erp', config);
    expect(r.status, r.error).toBe('completed');
    expect(await live(tenant)).toEqual(['E1', 'E2']);
  });
});

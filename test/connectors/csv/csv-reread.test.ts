// The bounded re-read of a `csv` system (rereadSystem): the files now in the entity's folder read
// again, staging only the given ids or the rows modified in a window, and no checkpoint moved.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerConnector, unregisterConnector } from '../../../pipeline/connectors/registry.js';
import { rereadSystem, syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import { listCheckpoints } from '../../../staging/checkpoints.js';
import { useTestDatabase } from '../../support/database.js';
import { jsonlConnector } from '../plugin-kind/jsonl-connector.js';

const t = useTestDatabase('csvreread');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trueup-reread-'));
  await mkdir(join(dir, 're', 'customer'), { recursive: true });
  await writeFile(
    join(dir, 're', 'customer', 'a.csv'),
    'id,name,modified\nR1,One,2024-01-01T00:00:00Z\nR2,Two,2024-02-01T00:00:00Z\nR3,Three,2024-03-01T00:00:00Z\n',
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const deps = () => ({ staging: t.staging, logger: createLogger({ level: 'silent' }) });
const config = () => ({
  kind: 'csv',
  role: 'erp',
  dropDir: join(dir, '{tenant}'),
  entities: { customer: { versionColumn: 'modified' } },
});

describe('csv re-read', () => {
  it('stages the given ids, or a window of row times, again and leaves the checkpoint alone', async () => {
    expect((await syncSystem(deps(), 're', 'legacy', config())).status).toBe('completed');
    const before = await listCheckpoints(t.staging.db, 're');
    // Someone changed staging behind the source's back: the re-read puts the source's rows back.
    await t.staging.pool.query(`UPDATE staging.customer SET name = 'drifted' WHERE tenant_id = 're'`);
    await t.staging.pool.query(`UPDATE staging.customer SET version = version - 1 WHERE tenant_id = 're'`);

    const byId = await rereadSystem(deps(), 're', 'legacy', config(), { entity: 'customer', ids: ['R2'] });
    expect(byId.status, byId.error).toBe('completed');
    expect(byId.streams[0]).toMatchObject({ received: 1, updated: 1 });
    const window = await rereadSystem(deps(), 're', 'legacy', config(), {
      entity: 'customer',
      window: { from: '2024-02-15T00:00:00.000Z', to: '2024-04-01T00:00:00.000Z' },
    });
    expect(window.streams[0]).toMatchObject({ received: 1, updated: 1 });
    const names = await t.staging.pool.query(
      `SELECT source_id, name FROM staging.customer WHERE tenant_id = 're' ORDER BY 1`,
    );
    expect(names.rows.map((r) => `${r.source_id}:${r.name}`)).toEqual(['R1:drifted', 'R2:Two', 'R3:Three']);
    expect(await listCheckpoints(t.staging.db, 're')).toEqual(before);
  });

  it('a kind without a re-read fails with a report saying so', async () => {
    // The built-in kinds all have one by now: the test plugin kind has none.
    registerConnector(jsonlConnector);
    try {
      const r = await rereadSystem(
        deps(),
        're',
        'crm',
        { kind: 'jsonl', role: 'crm', file: join(dir, 'none.jsonl') },
        { entity: 'customer', ids: ['1'] },
      );
      expect(r).toMatchObject({ status: 'failed', error: expect.stringMatching(/has no bounded re-read/) });
    } finally {
      unregisterConnector('jsonl');
    }
  });
});

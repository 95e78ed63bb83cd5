// An incremental run while a full load of the same stream is unfinished (the process stopped
// during the keyset paging): the records the full load had not reached must still be staged.
import { expect, it } from 'vitest';
import { NetsuiteSandbox } from '../../../pipeline/connectors/netsuite/netsuite-sandbox.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import { loadCheckpoint } from '../../../staging/checkpoints.js';
import { useTestDatabase } from '../../support/database.js';
import { FAST_BACKOFF, netsuiteConfig, sandboxSnapshot, stagingSnapshot } from '../../support/netsuite.js';

const t = useTestDatabase('netsuite_unfinished');
const logger = createLogger({ level: 'silent' });

it('an incremental run finishes an unfinished full load, then queries from its start: every record is staged', async () => {
  const sb = new NetsuiteSandbox({
    seed: 12,
    counts: { customer: 50, item: 0, salesorder: 0, invoice: 0, payment: 0 },
  });
  const url = await sb.listen();
  try {
    const deps = { staging: t.staging, logger };
    const config = netsuiteConfig(url, { streams: ['customer'], pageSize: 10, stageBatchRows: 10 });
    const stopped = await syncSystem(deps, 'unf', 'netsuite', config, {
      limits: FAST_BACKOFF,
      onUnitStaged: () => {
        throw new Error('simulated kill after the first page');
      },
    });
    expect(stopped.status).toBe('failed');
    const key = { tenant: 'unf', system: 'netsuite', stream: 'customer' };
    expect(((await loadCheckpoint(t.staging.pool, key)) as { phase: string }).phase).toBe('full');

    // While the load is stopped: a record it had read is edited, one is created.
    const [first] = [...sb.table('customer').keys()];
    sb.update('customer', first!, { companyname: 'Edited while stopped' });
    const { id: _id, ...like } = sb.table('customer').get(first!)!;
    sb.insert('customer', { ...like, entityid: 'C-NEW', companyname: 'Created while stopped' });

    const inc = await syncSystem(deps, 'unf', 'netsuite', config, {
      limits: FAST_BACKOFF,
      mode: 'incremental',
    });
    expect(inc.status, JSON.stringify(inc.streams)).toBe('completed');
    expect(await stagingSnapshot(t, 'unf')).toEqual(sandboxSnapshot(sb));
    expect(((await loadCheckpoint(t.staging.pool, key)) as { phase: string }).phase).toBe('incremental');
  } finally {
    await sb.close();
  }
});

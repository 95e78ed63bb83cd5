// A NetSuite row whose lastmodifieddate (or deleteddate) is beyond server time + 5 minutes never
// becomes a version or the keyset checkpoint: it is dead-lettered with the reason, the rows
// before it are staged, and the next run still reads rows changed meanwhile with earlier stamps.
import { describe, expect, it } from 'vitest';
import { NetsuiteSandbox } from '../../../pipeline/connectors/netsuite/netsuite-sandbox.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import { loadCheckpoint } from '../../../staging/checkpoints.js';
import { listDeadLetters } from '../../../staging/control/dead-letters.js';
import { useTestDatabase } from '../../support/database.js';
import { FAST_BACKOFF, netsuiteConfig } from '../../support/netsuite.js';

const t = useTestDatabase('netsuite_future');
const logger = createLogger({ level: 'silent' });
const YEAR = 365 * 86_400_000;

async function run(sb: NetsuiteSandbox, tenant: string) {
  const url = await sb.listen();
  try {
    const config = netsuiteConfig(url, { streams: ['customer'], pageSize: 3, stageBatchRows: 2 });
    return await syncSystem({ staging: t.staging, logger }, tenant, 'netsuite', config, {
      limits: FAST_BACKOFF,
    });
  } finally {
    await sb.close();
  }
}

async function names(tenant: string): Promise<Record<string, string>> {
  const res = await t.staging.pool.query<{ source_id: string; name: string }>(
    `SELECT source_id, name FROM staging.customer WHERE tenant_id = $1 AND deleted_at IS NULL`,
    [tenant],
  );
  return Object.fromEntries(res.rows.map((r) => [r.source_id, r.name]));
}

describe('NetSuite stamps in the future', () => {
  it('full load and incremental: the future row is dead-lettered, the keyset stays, later rows are read', async () => {
    const sb = new NetsuiteSandbox({
      seed: 9,
      counts: { customer: 6, item: 0, salesorder: 0, invoice: 0, payment: 0 },
      tokens: ['ns-token'],
      baseTime: Date.now() - 86_400_000,
    });
    const ids = [...sb.table('customer').keys()];
    // Stamped a year ahead before the full load: not staged, not a version that would win later.
    sb.update('customer', ids[1]!, { companyname: 'From the future' }, Date.now() + YEAR);
    const full = await run(sb, 'ns');
    expect(full.status, full.error).toBe('completed');
    expect(Object.keys(await names('ns')).sort()).toEqual(
      ids
        .filter((_, i) => i !== 1)
        .map(String)
        .sort(),
    );

    // Incremental: one sound change, one future change; the cursor stays at the sound one.
    sb.update('customer', ids[2]!, { companyname: 'Changed' }, Date.now() - 60_000);
    sb.update('customer', ids[3]!, { companyname: 'Future again' }, Date.now() + YEAR);
    const inc = await run(sb, 'ns');
    expect(inc.status, inc.error).toBe('completed');
    const staged = await names('ns');
    expect(staged[String(ids[2])]).toBe('Changed');
    expect(staged[String(ids[3])]).not.toBe('Future again');
    const cp = (await loadCheckpoint(t.staging.pool, {
      tenant: 'ns',
      system: 'netsuite',
      stream: 'customer',
    })) as {
      since: string;
    };
    expect(Date.parse(`${cp.since.replace(' ', 'T')}Z`)).toBeLessThan(Date.now() + 86_400_000);
    const dead = await listDeadLetters(t.staging.db, { tenant: 'ns', system: 'netsuite' });
    expect(dead.map((d) => d.sourceId).sort()).toEqual([String(ids[1]), String(ids[3])].sort());
    expect(dead[0]!.errorMessage).toMatch(
      /lastmodifieddate \S+ is in the future \(server time .*tolerance 5 min\)/,
    );

    // Changed after that run, stamped before the future rows: still read.
    sb.update('customer', ids[4]!, { companyname: 'Later but sound' }, Date.now());
    expect((await run(sb, 'ns')).status).toBe('completed');
    expect((await names('ns'))[String(ids[4])]).toBe('Later but sound');
  });
});

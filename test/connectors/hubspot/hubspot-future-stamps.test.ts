// A record whose modification stamp is in the future (beyond server time + 5 minutes), out of
// range or unreadable never becomes a version or a checkpoint: it is dead-lettered with the
// reason, the rest of the page is staged, and the incremental cursor stays at the last sound
// stamp — so a record changed later, with an earlier stamp than the bad one, is still read.
import { describe, expect, it } from 'vitest';
import { HubspotSandbox } from '../../../pipeline/connectors/hubspot/hubspot-sandbox.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { loadCheckpoint } from '../../../staging/checkpoints.js';
import { listDeadLetters } from '../../../staging/control/dead-letters.js';
import { useTestDatabase } from '../../support/database.js';
import { FAST_BACKOFF, hubspotConfig, quietLogger } from '../../support/hubspot.js';

const t = useTestDatabase('hubspot_future');
const logger = quietLogger();
const HOUR = 3_600_000;
const YEAR = 365 * 24 * HOUR;

async function run(sb: HubspotSandbox, tenant: string) {
  const url = await sb.listen();
  try {
    const config = hubspotConfig(url, { objects: ['companies'], searchPageSize: 3, stageBatchRows: 2 });
    return await syncSystem({ staging: t.staging, logger }, tenant, 'hubspot', config, {
      limits: FAST_BACKOFF,
    });
  } finally {
    await sb.close();
  }
}

async function staged(tenant: string): Promise<string[]> {
  const res = await t.staging.pool.query<{ name: string }>(
    `SELECT name FROM staging.customer WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY name`,
    [tenant],
  );
  return res.rows.map((r) => r.name);
}

const empty = { companies: 0, products: 0, deals: 0, invoices: 0 };

describe('HubSpot stamps in the future or out of range', () => {
  it('incremental: the future record is dead-lettered and the cursor stays at the last sound stamp', async () => {
    const sb = new HubspotSandbox({ seed: 1, counts: empty });
    const now = Date.now();
    const since = now - 10 * HOUR;
    await t.staging.pool.query(
      `INSERT INTO control.checkpoints (tenant_id, system, stream, position) VALUES ('inc', 'hubspot', 'companies', $1),
         ('inc', 'hubspot', 'companies:archived', $2)`,
      [
        JSON.stringify({ phase: 'incremental', since }),
        JSON.stringify({ since, after: null, runStartedAt: null }),
      ],
    );
    sb.create('companies', { name: 'A' }, now - 8 * HOUR);
    sb.create('companies', { name: 'B' }, now - 6 * HOUR);
    const future = sb.create('companies', { name: 'F' }, now + YEAR);
    const report = await run(sb, 'inc');
    expect(report.status).toBe('completed');
    expect(await staged('inc')).toEqual(['A', 'B']);
    const dead = await listDeadLetters(t.staging.db, { tenant: 'inc', system: 'hubspot' });
    expect(dead.map((d) => [d.sourceId, d.errorMessage])).toEqual([
      [
        future.id,
        expect.stringMatching(/hs_lastmodifieddate \S+ is in the future \(server time .*tolerance 5 min\)/),
      ],
    ]);
    const cp = (await loadCheckpoint(t.staging.pool, {
      tenant: 'inc',
      system: 'hubspot',
      stream: 'companies',
    })) as {
      since: number;
    };
    expect(cp.since).toBe(now - 6 * HOUR);
    // Changed after the run, stamped before the future record: still read.
    sb.create('companies', { name: 'C' }, now - 4 * HOUR);
    expect((await run(sb, 'inc')).status).toBe('completed');
    expect(await staged('inc')).toEqual(['A', 'B', 'C']);
  });

  it('full load: future, out-of-range and unreadable stamps are dead-lettered, the rest staged', async () => {
    const sb = new HubspotSandbox({ seed: 2, counts: empty });
    const now = Date.now();
    for (const name of ['A', 'B', 'C', 'D']) sb.create('companies', { name }, now - HOUR);
    const future = sb.create('companies', { name: 'F' }, now + YEAR);
    const [, b, c] = sb.live('companies');
    sb.server.tamper = (key, out) => {
      if (!key.startsWith('GET /crm/v3/objects/companies')) return undefined;
      const body = out.body as {
        results: { id: string; properties: Record<string, string>; updatedAt?: string }[];
      };
      for (const r of body.results) {
        const stamp = r.id === b!.id ? '99999999999999999' : r.id === c!.id ? 'yesterday' : undefined;
        if (stamp === undefined) continue;
        r.properties.hs_lastmodifieddate = stamp;
        r.updatedAt = stamp;
      }
      return out;
    };
    const report = await run(sb, 'full');
    expect(report.status).toBe('completed');
    expect(await staged('full')).toEqual(['A', 'D']);
    const dead = await listDeadLetters(t.staging.db, { tenant: 'full', system: 'hubspot' });
    expect(Object.fromEntries(dead.map((d) => [d.sourceId, d.errorMessage]))).toEqual({
      [b!.id]: expect.stringContaining('hs_lastmodifieddate "99999999999999999" is out of range'),
      [c!.id]: expect.stringContaining('hs_lastmodifieddate "yesterday" is missing or not a timestamp'),
      [future.id]: expect.stringContaining('is in the future'),
    });
  });
});

// Review: where the deletedrecord stream's first pass starts when the full load was stopped (a
// daily limit) before that stream ever ran. A record the load had staged and that was deleted
// while it was stopped must get its tombstone when a later run finishes the load.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { NetsuiteSandbox } from '../../../pipeline/connectors/netsuite/netsuite-sandbox.js';
import { runNetsuiteSync } from '../../../pipeline/connectors/netsuite/run-netsuite-sync.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import { createTestDatabase, type TestDatabase } from '../../support/database.js';
import { FAST_BACKOFF, netsuiteConfig, sandboxSnapshot, stagingSnapshot } from './netsuite-test-support.js';

let t: TestDatabase;
const logger = createLogger({ level: 'silent' });
beforeAll(async () => {
  t = await createTestDatabase('review_ns_deletes_start');
});
afterAll(async () => t?.drop());

for (const mode of ['auto', 'incremental'] as const)
  it(`a ${mode} run finishing a stopped full load tombstones records deleted while it was stopped`, async () => {
    const tenant = `del_${mode}`;
    const sb = new NetsuiteSandbox({
      seed: 14,
      counts: { customer: 30, item: 0, salesorder: 0, invoice: 0, payment: 0 },
    });
    const url = await sb.listen();
    try {
      const deps = { staging: t.staging, logger };
      const config = netsuiteConfig(url, {
        streams: ['customer'],
        pageSize: 10,
        stageBatchRows: 10,
        overlapMs: 0,
      });
      let first = true;
      const r0 = await runNetsuiteSync(deps, tenant, 'netsuite', config, {
        limits: FAST_BACKOFF,
        onUnitStaged: () => {
          if (first) sb.server.respondNext('dailyLimited');
          first = false;
        },
      });
      expect(r0.status).toBe('paused');
      const staged = await stagingSnapshot(t, tenant);
      const stagedId = Object.keys(staged.customer!)[0]!;
      sb.remove('customer', Number(stagedId));
      // NetSuite stamps are whole seconds: the next run's watermark lies past the delete.
      await new Promise((r) => setTimeout(r, 1100));

      const r1 = await runNetsuiteSync(deps, tenant, 'netsuite', config, { limits: FAST_BACKOFF, mode });
      expect(r1.status, JSON.stringify(r1.streams)).toBe('completed');
      expect(await stagingSnapshot(t, tenant)).toEqual(sandboxSnapshot(sb));
    } finally {
      await sb.close();
    }
  });

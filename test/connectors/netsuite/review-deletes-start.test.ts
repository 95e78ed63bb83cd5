// Review: where the deletedrecord stream's first pass starts when the full load was stopped (the
// access token expired, with no refresh hook: every later stream fails at once) before that stream
// ever ran. NetSuite has no daily request limit to stop a run (WIRE.md). A record the load had staged and that was deleted
// while it was stopped must get its tombstone when a later run finishes the load.
import { expect, it } from 'vitest';
import { NetsuiteSandbox } from '../../../pipeline/connectors/netsuite/netsuite-sandbox.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import { useTestDatabase } from '../../support/database.js';
import { FAST_BACKOFF, netsuiteConfig, sandboxSnapshot, stagingSnapshot } from '../../support/netsuite.js';

const t = useTestDatabase('review_ns_deletes_start');
const logger = createLogger({ level: 'silent' });

for (const mode of ['auto', 'incremental'] as const)
  it(`a ${mode} run finishing a stopped full load tombstones records deleted while it was stopped`, async () => {
    const tenant = `del_${mode}`;
    const sb = new NetsuiteSandbox({
      seed: 14,
      counts: { customer: 30, item: 0, salesorder: 0, invoice: 0, payment: 0 },
      tokens: ['ns-token'],
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
      const r0 = await syncSystem(deps, tenant, 'netsuite', config, {
        limits: FAST_BACKOFF,
        onUnitStaged: () => {
          if (first) sb.server.expireToken('ns-token');
          first = false;
        },
      });
      expect(r0.status).toBe('failed');
      expect(r0.streams.find((s) => s.stream === 'deletedrecord')?.status).toBe('failed');
      const staged = await stagingSnapshot(t, tenant);
      const stagedId = Object.keys(staged.customer!)[0]!;
      sb.remove('customer', Number(stagedId));
      // NetSuite stamps are whole seconds: the next run's watermark lies past the delete.
      await new Promise((r) => setTimeout(r, 1100));

      const renewed = { ...config, accessToken: sb.server.issueToken() };
      const r1 = await syncSystem(deps, tenant, 'netsuite', renewed, { limits: FAST_BACKOFF, mode });
      expect(r1.status, JSON.stringify(r1.streams)).toBe('completed');
      expect(await stagingSnapshot(t, tenant)).toEqual(sandboxSnapshot(sb));
    } finally {
      await sb.close();
    }
  });

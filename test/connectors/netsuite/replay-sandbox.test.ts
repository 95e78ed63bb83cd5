// Issue 18 on NetSuite, through the sandbox: a bad tenant mapping makes the write path refuse the
// customers (each letter keeps the SuiteQL row it was mapped from); the mapping is fixed and
// `dlq replay` maps the stored rows again with the extraction's own mapper — no request to the
// account — so staging equals the sandbox.
import { describe, expect, it } from 'vitest';
import { NetsuiteSandbox } from '../../../pipeline/connectors/netsuite/netsuite-sandbox.js';
import { tenantRemappers } from '../../../pipeline/connectors/remap.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import { listDeadLetters } from '../../../staging/control/dead-letters.js';
import { replayDeadLetters } from '../../../staging/control/replay-dead-letters.js';
import type { EntityConfig } from '../../../staging/model/tenant-config.js';
import { useTestDatabase } from '../../support/database.js';
import { FAST_BACKOFF, netsuiteConfig, sandboxSnapshot, stagingSnapshot } from '../../support/netsuite.js';

const t = useTestDatabase('nsreplay');
const logger = createLogger({ level: 'silent' });

describe('NetSuite: replay with the current mapping', () => {
  it('fixing the mapping and replaying stages the refused customers without reading NetSuite', async () => {
    const sb = new NetsuiteSandbox({
      seed: 5,
      counts: { customer: 25, item: 5, salesorder: 5, invoice: 5, payment: 3 },
      tokens: ['ns-token'],
    });
    const url = await sb.listen();
    try {
      const config = netsuiteConfig(url, { pageSize: 10 });
      // The broken mapping: a customer's company name as its credit limit (not a number).
      const broken = {
        customer: { mapping: { netsuite: { fields: { credit_limit: 'companyname' } } } },
      } as unknown as Record<string, EntityConfig>;
      const rep = await syncSystem({ staging: t.staging, logger }, 'ns', 'netsuite', config, {
        limits: FAST_BACKOFF,
        entities: broken,
      });
      const customers = rep.streams.find((s) => s.stream === 'customer')!;
      expect(customers.deadLettered).toBe(25);
      const letters = await listDeadLetters(t.staging.db, { tenant: 'ns' });
      expect(letters).toHaveLength(25);
      expect(letters[0]!.errorMessage).toMatch(/credit_limit/);

      const served = [...sb.servedByTable.values()].reduce((a, b) => a + b, 0);
      expect(served).toBeGreaterThan(0);
      const fixed = { customer: { mappingVersion: 2 } } as unknown as Record<string, EntityConfig>;
      const res = await replayDeadLetters(
        t.staging,
        { tenant: 'ns' },
        { remappers: tenantRemappers('ns', { netsuite: config }, fixed) },
      );
      expect(res.failed).toEqual([]);
      expect(res.remapped).toBe(25);
      expect([...sb.servedByTable.values()].reduce((a, b) => a + b, 0)).toBe(served);
      expect(await stagingSnapshot(t, 'ns')).toEqual(sandboxSnapshot(sb));
      expect(await listDeadLetters(t.staging.db, { tenant: 'ns' })).toEqual([]);
    } finally {
      await sb.close();
    }
  });
});

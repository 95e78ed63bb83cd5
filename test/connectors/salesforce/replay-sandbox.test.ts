// Issue 18 on Salesforce, through the sandbox: a bad tenant mapping makes the write path refuse
// the accounts (each letter keeps the Bulk API row it was mapped from); the mapping is fixed and
// `dlq replay` maps the stored rows again with the extraction's own row mapper — no request to
// Salesforce — so staging equals the sandbox.
import { afterAll, describe, expect, it } from 'vitest';
import { tenantRemappers } from '../../../pipeline/connectors/remap.js';
import type { SalesforceSandbox } from '../../../pipeline/connectors/salesforce/sandbox.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { listDeadLetters } from '../../../staging/control/dead-letters.js';
import { replayDeadLetters } from '../../../staging/control/replay-dead-letters.js';
import type { EntityConfig } from '../../../staging/model/tenant-config.js';
import { useTestDatabase } from '../../support/database.js';
import {
  expectEqual,
  FAST_BULK,
  FAST_LIMITS,
  quietLogger,
  startSandbox,
  systemConfig,
} from '../../support/salesforce.js';

const t = useTestDatabase('sfreplay');
let sb: SalesforceSandbox | undefined;
afterAll(async () => {
  await sb?.close();
});

describe('Salesforce: replay with the current mapping', () => {
  it('fixing the mapping and replaying stages the refused accounts without reading Salesforce', async () => {
    sb = await startSandbox({ seed: 6, accounts: 40 });
    const config = systemConfig(sb, { bulk: { ...FAST_BULK, maxRecords: 100, batchSize: 60 } });
    // The broken mapping: an account's name as its credit limit (not a number).
    const broken = {
      customer: { mapping: { crm: { fields: { credit_limit: 'Name' } } } },
    } as unknown as Record<string, EntityConfig>;
    const rep = await syncSystem({ staging: t.staging, logger: quietLogger }, 'sf', 'crm', config, {
      limits: FAST_LIMITS,
      entities: broken,
    });
    const accounts = rep.streams.find((s) => s.stream === 'Account')!;
    const live = [...sb.rows('Account')].length;
    expect(accounts.deadLettered).toBe(live);
    const letters = await listDeadLetters(t.staging.db, { tenant: 'sf' });
    expect(letters).toHaveLength(live);
    expect(letters[0]!.errorMessage).toMatch(/credit_limit/);

    const served = sb.recordsServed;
    const fixed = { customer: { mappingVersion: 2 } } as unknown as Record<string, EntityConfig>;
    const res = await replayDeadLetters(
      t.staging,
      { tenant: 'sf' },
      { remappers: tenantRemappers('sf', { crm: config }, fixed) },
    );
    expect(res.failed).toEqual([]);
    expect(res.remapped).toBe(live);
    expect(sb.recordsServed).toBe(served);
    expect(await expectEqual(t.staging, sb, 'sf')).toEqual([]);
    expect(await listDeadLetters(t.staging.db, { tenant: 'sf' })).toEqual([]);
  });
});

// Issue 18 on HubSpot: a bad tenant mapping makes the write path refuse every company (the refused
// change keeps the HubSpot record); the mapping is fixed and the replay maps the stored records
// again with the extraction's own mapper — no request to HubSpot — so staging equals the sandbox.
// A re-mapping of staged records applies a value map; a property the mapping newly reads was not
// requested when the records were read, so such records fail with that reason, never a silent null.
import { describe, expect, it } from 'vitest';
import { HubspotSandbox } from '../../../pipeline/connectors/hubspot/hubspot-sandbox.js';
import { tenantRemappers } from '../../../pipeline/connectors/remap.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { listDeadLetters } from '../../../staging/control/dead-letters.js';
import { replayDeadLetters } from '../../../staging/control/replay-dead-letters.js';
import type { EntityConfig } from '../../../staging/model/tenant-config.js';
import { remapEntity } from '../../../staging/remap.js';
import { useTestDatabase } from '../../support/database.js';
import {
  FAST_BACKOFF,
  hubspotConfig,
  quietLogger,
  sandboxSnapshot,
  stagingSnapshot,
} from '../../support/hubspot.js';

const t = useTestDatabase('hsremap');

describe('HubSpot: replay and remap with the current mapping', () => {
  it('fixing the mapping and replaying stages the refused records without reading HubSpot', async () => {
    const sb = new HubspotSandbox({ seed: 3, counts: { companies: 30 }, tokens: ['test-token'] });
    const url = await sb.listen();
    try {
      const config = hubspotConfig(url, { objects: ['companies'] });
      // The broken mapping: a company's name as its credit limit (not a number).
      const broken = { customer: { mapping: { hubspot: { fields: { credit_limit: 'name' } } } } } as const;
      const rep = await syncSystem({ staging: t.staging, logger: quietLogger() }, 'hs', 'hubspot', config, {
        limits: FAST_BACKOFF,
        entities: broken as unknown as Record<string, EntityConfig>,
      });
      expect(rep.streams[0]!.deadLettered).toBe(30);
      const letters = await listDeadLetters(t.staging.db, { tenant: 'hs' });
      expect(letters).toHaveLength(30);
      expect(letters[0]!.record).toMatchObject({
        change: { raw: { id: expect.any(String), properties: {} } },
      });

      const served = sb.recordsServed;
      const fixed = { customer: { mappingVersion: 2 } } as unknown as Record<string, EntityConfig>;
      const res = await replayDeadLetters(
        t.staging,
        { tenant: 'hs' },
        { remappers: tenantRemappers('hs', { hubspot: config }, fixed) },
      );
      expect(res.failed).toEqual([]);
      expect(res.remapped).toBe(30);
      expect(sb.recordsServed).toBe(served);
      expect(await stagingSnapshot(t, 'hs', ['companies'])).toEqual(sandboxSnapshot(sb, ['companies']));
      const { rows } = await t.staging.pool.query(
        `SELECT DISTINCT mapping_version FROM staging.customer WHERE tenant_id = 'hs'`,
      );
      expect(rows).toEqual([{ mapping_version: 2 }]);

      // A value map on the staged records: only the companies it changes are rewritten.
      const customers = sb.live('companies').filter((c) => c.properties.lifecyclestage === 'customer');
      expect(customers.length).toBeGreaterThan(0);
      const valueMapped = {
        customer: {
          mappingVersion: 2,
          mapping: { hubspot: { valueMaps: { lifecycle_stage: { customer: 'won' } } } },
        },
      } as unknown as Record<string, EntityConfig>;
      const remap = tenantRemappers('hs', { hubspot: config }, valueMapped)('hubspot', 'customer')!;
      const input = {
        tenant: 'hs',
        system: 'hubspot',
        entity: 'customer' as const,
        mappingVersion: 2,
        all: true,
      };
      expect(await remapEntity(t.staging.pool, { ...input, remap })).toEqual({
        scanned: 30,
        updated: customers.length,
        deadLettered: 0,
      });
      const won = await t.staging.pool.query(
        `SELECT count(*)::int AS n FROM staging.customer WHERE tenant_id = 'hs' AND lifecycle_stage = 'won'`,
      );
      expect(won.rows[0].n).toBe(customers.length);

      // A property that was never requested: every record fails with that reason, values kept.
      const newProperty = {
        customer: { mappingVersion: 2, mapping: { hubspot: { fields: { credit_limit: 'annualrevenue' } } } },
      } as unknown as Record<string, EntityConfig>;
      const res2 = await remapEntity(t.staging.pool, {
        ...input,
        remap: tenantRemappers('hs', { hubspot: config }, newProperty)('hubspot', 'customer')!,
      });
      expect(res2).toEqual({ scanned: 30, updated: 0, deadLettered: 30 });
      const open = await listDeadLetters(t.staging.db, { tenant: 'hs' });
      expect(open[0]!.errorMessage).toMatch(/lacks "annualrevenue" \(not requested when it was read\)/);
    } finally {
      await sb.close();
    }
  });
});

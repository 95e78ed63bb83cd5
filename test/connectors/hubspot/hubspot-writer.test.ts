import { describe, expect, it } from 'vitest';
import { HubspotSandbox } from '../../../pipeline/connectors/hubspot/hubspot-sandbox.js';
import { createHubspotWriter } from '../../../pipeline/connectors/hubspot/hubspot-writer.js';
import { FAST_BACKOFF, hubspotConfig, quietLogger } from '../../support/hubspot.js';

describe('HubSpot batch upsert writer', () => {
  it('creates and updates by erp_id in chunks of 100 and reports 207 partial failures per input', async () => {
    const sb = new HubspotSandbox({ seed: 1, counts: { companies: 0, products: 0, deals: 3, invoices: 0 } });
    const existing = sb.create('deals', { dealname: 'SO-1', amount: '10.00', erp_id: 'E-1' }, 1000);
    const url = await sb.listen();
    const writer = createHubspotWriter({ logger: quietLogger() }, 'acme', 'hubspot', hubspotConfig(url), {
      limits: FAST_BACKOFF,
    });
    try {
      const records = Array.from({ length: 150 }, (_, i) => ({
        erpId: `E-${i + 1}`,
        fields: { number: `SO-${i + 1}`, amount_total: i === 42 ? 'not-a-number' : `${i}.50` },
      }));
      const out = await writer.upsert('order', records);
      expect(out.failed).toEqual([
        { id: 'E-43', message: expect.stringMatching(/amount/), code: 'VALIDATION_ERROR' },
      ]);
      expect(out.written).toHaveLength(149);
      expect(out.written.find((w) => w.id === 'E-1')).toEqual({
        id: 'E-1',
        recordId: existing.id,
        created: false,
      });
      expect(sb.table('deals').get(existing.id)!.properties.amount).toBe('0.50');
      // The write advanced the stamp, so the extractor's next search sees it.
      expect(sb.table('deals').get(existing.id)!.updatedAt).toBeGreaterThan(1000);
      expect(sb.live('deals').filter((d) => d.properties.erp_id)).toHaveLength(149);
    } finally {
      await writer.close();
      await sb.close();
    }
  });
});

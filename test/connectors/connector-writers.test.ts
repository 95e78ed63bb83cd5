// The corrective writers behind the one ConnectorWriter interface (openWriter): canonical records
// keyed by the kind's external id in, one result per record out in input order, created or updated.
import { describe, expect, it } from 'vitest';
import { HubspotSandbox } from '../../pipeline/connectors/hubspot/hubspot-sandbox.js';
import { openWriter } from '../../pipeline/connectors/open-writer.js';
import { createLogger } from '../../pipeline/log/logger.js';
import { useTestDatabase } from '../support/database.js';
import { FAST_BACKOFF, hubspotConfig } from '../support/hubspot.js';
import { FAST_LIMITS, startSandbox, systemConfig } from '../support/salesforce.js';

const t = useTestDatabase('writers');
const logger = createLogger({ level: 'silent' });
const deps = () => ({ staging: t.staging, logger });

describe('ConnectorWriter', () => {
  it('salesforce: upserts by external id, reports per record in input order', async () => {
    const s = await startSandbox({ seed: 4, accounts: 5 });
    const writer = openWriter(deps(), 'acme', 'crm', systemConfig(s), { limits: FAST_LIMITS });
    try {
      const first = await writer.upsert('customer', [
        { key: 'W-1', fields: { name: 'Written', website: 'https://w.example' } },
        { key: 'W-2', fields: { website: 'https://no-name.example' } },
      ]);
      expect(first).toEqual([
        { key: 'W-1', ok: true, id: expect.stringMatching(/^001/), created: true },
        expect.objectContaining({
          key: 'W-2',
          ok: false,
          created: null,
          error: expect.objectContaining({ code: 'REQUIRED_FIELD_MISSING' }),
        }),
      ]);
      const again = await writer.upsert('customer', [{ key: 'W-1', fields: { name: 'Rewritten' } }]);
      expect(again).toEqual([{ key: 'W-1', ok: true, id: first[0]!.id, created: false }]);
      expect(s.get('Account', first[0]!.id!)).toMatchObject({ Name: 'Rewritten', ERP_Id__c: 'W-1' });
    } finally {
      await writer.close();
      await s.close();
    }
  });

  it('hubspot: upserts by the ERP id property, a rejected record fails alone', async () => {
    const sb = new HubspotSandbox({ seed: 1, counts: { companies: 0, products: 0, deals: 0, invoices: 0 } });
    const existing = sb.create('deals', { dealname: 'SO-1', amount: '10.00', erp_id: 'E-1' }, 1000);
    const url = await sb.listen();
    const writer = openWriter(deps(), 'acme', 'hubspot', hubspotConfig(url), { limits: FAST_BACKOFF });
    try {
      const out = await writer.upsert('order', [
        { key: 'E-2', fields: { number: 'SO-2', amount_total: '2.50' } },
        { key: 'E-3', fields: { number: 'SO-3', amount_total: 'not-a-number' } },
        { key: 'E-1', fields: { amount_total: '0.50' } },
      ]);
      expect(out.map((r) => [r.key, r.ok, r.created])).toEqual([
        ['E-2', true, true],
        ['E-3', false, null],
        ['E-1', true, false],
      ]);
      expect(out[1]!.error).toMatchObject({
        code: 'VALIDATION_ERROR',
        message: expect.stringMatching(/amount/),
      });
      expect(out[2]!.id).toBe(existing.id);
      expect(sb.table('deals').get(existing.id)!.properties.amount).toBe('0.50');
    } finally {
      await writer.close();
      await sb.close();
    }
  });

  it('a kind without a writer says so', () => {
    expect(() => openWriter(deps(), 'acme', 'files', { kind: 'csv', role: 'erp', dropDir: '/tmp' })).toThrow(
      /connector kind "csv" has no writer/,
    );
  });
});

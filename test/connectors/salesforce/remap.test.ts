// The Salesforce re-mapper (issue 18) over a stored record, without a database: the extraction's
// own row mapper with the current config; a field the mapping reads that was not selected when
// the record was read is named, never mapped as null.
import { describe, expect, it } from 'vitest';
import { salesforceResolvedConfig } from '../../../pipeline/connectors/salesforce/config.js';
import { resolveMappings } from '../../../pipeline/connectors/salesforce/mapping.js';
import { salesforceRemapper } from '../../../pipeline/connectors/salesforce/remap.js';
import type { EntityConfig } from '../../../staging/model/tenant-config.js';

describe('salesforce re-mapper', () => {
  const sf = salesforceResolvedConfig.parse({
    kind: 'salesforce',
    role: 'crm',
    baseUrl: 'http://127.0.0.1:1',
    accessToken: 't',
  });
  const raw = {
    Id: '001000000000001AAA',
    SystemModstamp: '2025-01-02T03:04:05.000Z',
    IsDeleted: 'false',
    Name: 'Acme',
    ERP_Id__c: 'E1',
  };
  it('maps a stored record with the current mapping; a field not read is named', () => {
    const remap = salesforceRemapper({ tenant: 'a', system: 'sf', config: sf, entities: {} }, 'customer');
    const source = {
      raw: Object.fromEntries(Object.entries(raw)),
      location: 'salesforce Account job 1 chunk first row 1',
    };
    let missing = '';
    try {
      remap(source);
    } catch (err) {
      missing = (err as Error).message;
    }
    // The default Account mapping reads more fields than this stored record has.
    expect(missing).toMatch(/^Account: the stored record lacks .*not selected when it was read/);
    const entities = {
      customer: {
        mapping: {
          sf: {
            // Every default Account field this stored record lacks, unmapped.
            fields: Object.fromEntries(
              Object.keys(resolveMappings({ role: 'crm' }).find((m) => m.sobject === 'Account')!.fields)
                .filter((f) => !['name', 'crm_ref', 'erp_ref'].includes(f))
                .map((f) => [f, '']),
            ),
          },
        },
      },
    } as unknown as Record<string, EntityConfig>;
    const narrow = salesforceRemapper({ tenant: 'a', system: 'sf', config: sf, entities }, 'customer');
    expect(narrow(source)).toMatchObject({
      sourceId: raw.Id,
      version: 1_735_787_045_000_000n,
      op: 'upsert',
      fields: { name: 'Acme', crm_ref: raw.Id, erp_ref: 'E1' },
    });
  });
});

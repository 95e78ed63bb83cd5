// The NetSuite re-mapper (issue 18) over stored rows, without a database: the
// extraction's own row mapping with the current config; what only the account knows (a currency
// id's ISO code, a row's stamp on the account clock) is taken from what was stored, or the record
// is said to need the source.
import { describe, expect, it } from 'vitest';
import { netsuiteResolvedConfig } from '../../../pipeline/connectors/netsuite/config.js';
import { netsuiteRemapper } from '../../../pipeline/connectors/netsuite/remap.js';
import type { EntityConfig } from '../../../staging/model/tenant-config.js';
import { RemapNeedsSourceError } from '../../../staging/remap.js';

const ns = netsuiteResolvedConfig.parse({
  kind: 'netsuite',
  role: 'erp',
  baseUrl: 'http://127.0.0.1:1',
  accessToken: 't',
});
const row = {
  id: '42',
  entityid: 'CUST42',
  companyname: 'Acme GmbH',
  currency: '1',
  creditlimit: '1.234,50',
  lastmodified: '2025-01-02 03:04:05',
};
const stored = {
  sourceId: '42',
  version: 1_735_787_045_000_000n,
  sourceUpdatedAt: '2025-01-02T03:04:05.000Z',
};

describe('netsuite re-mapper', () => {
  it('maps a stored row with the current mapping, keeping the stored version and currency code', () => {
    const entities = {
      customer: { mapping: { netsuite: { valueMaps: { name: { 'Acme GmbH': 'ACME' } } } } },
    } as unknown as Record<string, EntityConfig>;
    const remap = netsuiteRemapper({ tenant: 'a', system: 'netsuite', config: ns, entities }, 'customer');
    const letter = remap({ raw: row, stored: { ...stored, fields: { currency: 'EUR' } } });
    expect(letter).toMatchObject({
      sourceId: '42',
      version: stored.version,
      op: 'upsert',
      fields: { name: 'ACME', currency: 'EUR', erp_ref: '42', credit_limit: '1.234,50' },
    });
    // A staged row keeps its staged currency code.
    const staged = remap({ raw: row, stored, staged: true });
    expect(staged.keepFields).toEqual(['currency']);
    expect(staged.fields).not.toHaveProperty('currency');
    // No version stored (dead-lettered for its stamp), or no code: the source is needed.
    expect(() => remap({ raw: row })).toThrow(RemapNeedsSourceError);
    expect(() => remap({ raw: row, stored })).toThrow(/currency reference only the account can translate/);
  });
});

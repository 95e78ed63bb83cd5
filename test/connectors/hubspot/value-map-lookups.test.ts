// Value maps and enum lookups go by the map's own entries: a source value `constructor`,
// `__proto__`, `toString` or `hasOwnProperty` is not found on Object.prototype (it used to be
// staged as "function Object() { [native code] }"). Shared mapping (HubSpot, NetSuite), Salesforce,
// CSV, and the reconcilers' enum comparator.
import { describe, expect, it } from 'vitest';
import { compileCsvMapper } from '../../../pipeline/connectors/csv/csv-mapping.js';
import { hubspotObjectMapping } from '../../../pipeline/connectors/hubspot/hubspot-mapping.js';
import { mappedValue, mapRecord, ownValue } from '../../../pipeline/connectors/map-record.js';
import { compileRowMapper, resolveMappings } from '../../../pipeline/connectors/salesforce/mapping.js';
import { toCanonicalValue } from '../../../reconcilers/compare/comparators.js';
import { ENTITY_FIELDS } from '../../../staging/model/entities.js';
import { entityConfigSchema } from '../../../staging/model/tenant-config.js';

const HOSTILE = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];

describe('value map lookups', () => {
  it('mappedValue and ownValue see only own entries', () => {
    const map = { draft: 'draft', paid: 'paid' };
    for (const v of HOSTILE) {
      expect(mappedValue(map, v)).toBeUndefined();
      expect(ownValue({ name: 'x' }, v)).toBeUndefined();
    }
    expect(mappedValue(map, 'paid')).toBe('paid');
    expect(mappedValue(JSON.parse('{"__proto__":"open"}'), '__proto__')).toBe('open');
  });

  it('HubSpot / NetSuite mapping: the hostile value is staged as itself', () => {
    const m = hubspotObjectMapping('invoices', {
      role: 'crm',
      erpIdProperty: 'erp_id',
      mapping: {},
    } as never);
    const statusProperty = m.mapping.fields.status!;
    for (const v of HOSTILE) {
      const fields = mapRecord('invoice', m.mapping, (p) => (p === statusProperty ? v : undefined));
      expect(fields.status).toBe(v);
    }
  });

  it('Salesforce: the hostile value is staged as itself', () => {
    const m = resolveMappings({ role: 'crm' }).find((x) => x.sobject === 'Invoice__c')!;
    const header = ['Id', 'SystemModstamp', 'IsDeleted', 'Status__c'];
    const map = compileRowMapper({ ...m, fields: { crm_ref: 'Id', status: 'Status__c' } }, header);
    for (const v of HOSTILE) {
      const change = map(['a0X000000000001AAA', '2025-01-01T00:00:00.000Z', 'false', v]);
      expect(change.fields?.status).toBe(v);
    }
  });

  it('CSV: the hostile value is staged as itself', () => {
    const mapper = compileCsvMapper(
      'invoice',
      { idColumn: 'id', columns: {}, valueMaps: { status: { A: 'open' } } } as never,
      ['id', 'status'],
    );
    const file = { fileVersion: 1n, fileTime: '2025-01-01T00:00:00Z' };
    for (const v of HOSTILE) expect(mapper(['1', v], file).fields?.status).toBe(v);
  });

  it('the enum comparator maps the hostile value to itself', () => {
    const def = ENTITY_FIELDS.invoice.find((d) => d.name === 'status')!;
    const cfg = entityConfigSchema.parse({
      compare: { status: { type: 'enum', valueMap: { erp: { A: 'open' } } } },
    });
    for (const v of HOSTILE) expect(toCanonicalValue(def, cfg, 'erp', v)).toBe(v);
    expect(toCanonicalValue(def, cfg, 'erp', 'A')).toBe('open');
  });
});

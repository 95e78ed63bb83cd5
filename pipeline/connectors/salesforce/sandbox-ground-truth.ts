// Seeds the Salesforce sandbox from the shared ground-truth generator: the CRM side of a
// generated tenant, written back into Salesforce field names through the default mapping, with
// the generator's own ids, so a test or the demo that extracts it knows exactly which
// discrepancies reconciliation must find.
import type { GeneratedRecord, GeneratedTenant } from '../../generator/ground-truth.js';
import { DEFAULT_OBJECT_NAMES, DEFAULT_OBJECTS, resolveMappings, SYSTEM_FIELDS } from './mapping.js';
import type { SalesforceSeed, SeededObject, SfRow } from './sandbox-data.js';

const KEY_PREFIX: Record<string, string> = {
  Account: '001',
  Product2: '01t',
  Order: '801',
  Invoice__c: 'a0I',
};

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean' || typeof value === 'number' || typeof value === 'bigint')
    return String(value);
  return JSON.stringify(value);
}

export function salesforceSeedFromGroundTruth(tenant: GeneratedTenant): SalesforceSeed {
  const seed: Record<string, SeededObject> = {};
  const mappings = resolveMappings({
    role: 'crm',
    objects: Object.fromEntries(DEFAULT_OBJECT_NAMES.map((n) => [n, DEFAULT_OBJECTS[n]!.entity])),
  });
  for (const m of mappings) {
    const records: readonly GeneratedRecord[] = tenant.entities[m.entity].crm;
    const fields = [...new Set([...SYSTEM_FIELDS, 'CreatedDate', ...Object.values(m.fields)])];
    const index = new Map(records.map((r, i) => [r.sourceId, i]));
    const rows = new Map<number, SfRow>();
    const record = (i: number): SfRow => {
      let row = rows.get(i);
      if (row) return row;
      const r = records[i]!;
      const out: Record<string, string> = Object.fromEntries(fields.map((f) => [f, '']));
      for (const [canonical, sf] of Object.entries(m.fields))
        if (sf !== 'Id') out[sf] = cell(r.fields[canonical]);
      const stamp = new Date(r.updatedAt).toISOString();
      Object.assign(out, {
        Id: r.sourceId,
        SystemModstamp: stamp,
        CreatedDate: stamp,
        IsDeleted: r.deleted ? 'true' : 'false',
      });
      row = out;
      rows.set(i, row);
      return row;
    };
    seed[m.sobject] = {
      fields,
      keyPrefix: KEY_PREFIX[m.sobject] ?? 'a00',
      count: records.length,
      record,
      stampMs: (i) => Date.parse(records[i]!.updatedAt),
      idOf: (i) => records[i]!.sourceId,
      indexOf: (id) => index.get(id),
    };
  }
  return seed;
}

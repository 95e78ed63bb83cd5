// What the write-back step asks of HubSpot besides the batch upsert (docs/apply.md): the records
// as they are now, read by the ERP id property through batch read
// (POST /crm/v3/objects/{type}/batch/read with `idProperty`, at most 100 inputs; ids without a
// record come back as a 207 error) and mapped exactly as the extraction maps them, so their
// modification stamp is the staging version reconciliation saw; and which canonical fields the
// writer cannot write (not mapped to a property of the object type).
import type { Entity } from '../../../staging/model/entities.js';
import type { ConnectorWriter, CurrentRecord, SystemHandle, WriterOptions } from '../contract.js';
import type { ApiClient } from '../http/api-client.js';
import { mapRecord, msToVersion, ownValue, parseStampMs, tenantEntityMapping } from '../map-record.js';
import type { HubspotObjectType, HubspotSystemConfig } from './config.js';
import type { HubspotRecord } from './hubspot-extractor.js';
import {
  HUBSPOT_PROPERTY,
  type HubspotObjectMapping,
  hubspotEntity,
  hubspotObjectMapping,
  hubspotProperties,
} from './hubspot-mapping.js';
import { hubspotBatchReadPage } from './hubspot-pages.js';
import { HUBSPOT_BATCH_LIMIT } from './hubspot-writer.js';

/** `writer` with reads (on the writer's own client), the fields it cannot write, and HubSpot's batch size. */
export function withHubspotReads(
  writer: ConnectorWriter,
  client: ApiClient,
  sys: SystemHandle<HubspotSystemConfig>,
  opts: WriterOptions = {},
): ConnectorWriter {
  const { config, tenant, system } = sys;
  const typeOf = (entity: Entity): HubspotObjectType | undefined =>
    config.objects.find((o) => hubspotEntity(o) === entity);
  const mappingOf = (type: HubspotObjectType, entity: Entity): HubspotObjectMapping =>
    hubspotObjectMapping(type, config, tenantEntityMapping(opts.entities, entity, system, HUBSPOT_PROPERTY));
  const ownRef = config.role === 'crm' ? 'crm_ref' : 'erp_ref';

  function current(key: string, m: HubspotObjectMapping, r: HubspotRecord): CurrentRecord {
    const stamp = parseStampMs(r.properties?.[m.modifiedProperty]) ?? parseStampMs(r.updatedAt);
    const fields = mapRecord(m.entity, m.mapping, (p) => ownValue(r.properties, p));
    fields[ownRef] = r.id;
    return {
      key,
      found: true,
      id: r.id,
      fields,
      version: stamp === null ? null : msToVersion(stamp),
      sourceUpdatedAt: stamp === null ? null : new Date(stamp).toISOString(),
    };
  }

  return {
    ...writer,
    batchLimit: HUBSPOT_BATCH_LIMIT,
    upsert: (entity, records, batch) => writer.upsert(entity, records, batch),
    async read(entity, refs) {
      const type = typeOf(entity);
      if (!type) throw new Error(`tenant ${tenant}, system ${system}: no HubSpot object type for ${entity}`);
      const m = mappingOf(type, entity);
      const found = new Map<string, CurrentRecord>();
      const keys = [...new Set(refs.map((r) => r.key))];
      for (let i = 0; i < keys.length; i += HUBSPOT_BATCH_LIMIT) {
        const chunk = keys.slice(i, i + HUBSPOT_BATCH_LIMIT);
        // Checked before it is read (hubspot-pages.ts): a 200 or 207 without `results`, or one that
        // does not account for every id asked, is re-read, then fails the read; never "not found".
        const res = await client.json('POST', `crm/v3/objects/${type}/batch/read`, {
          query: { archived: 'false' },
          schema: hubspotBatchReadPage(config.erpIdProperty, chunk),
          about: `current ${entity} records`,
          body: {
            properties: [...new Set([...hubspotProperties(m), config.erpIdProperty])],
            idProperty: config.erpIdProperty,
            inputs: chunk.map((id) => ({ id })),
          },
        });
        for (const r of res.results) {
          const key = r.properties?.[config.erpIdProperty];
          if (typeof key === 'string' && chunk.includes(key)) found.set(key, current(key, m, r));
        }
      }
      return refs.map(
        (r) =>
          found.get(r.key) ?? {
            key: r.key,
            found: false,
            id: null,
            fields: {},
            version: null,
            sourceUpdatedAt: null,
          },
      );
    },
    unwritable(entity, fields) {
      const type = typeOf(entity);
      const m = type ? mappingOf(type, entity) : undefined;
      return fields.flatMap((field) => {
        // The record id and the ERP id: the identity the upsert goes by.
        if (field === 'crm_ref' || field === 'erp_ref') return [];
        if (!type || !m)
          return [{ field, reason: `has no HubSpot object type (none is configured for ${entity})` }];
        const associated = m.associations?.[field];
        if (associated)
          return [
            {
              field,
              reason: `is read from the HubSpot ${type} → ${associated} association, which trueup does not write (correct it in HubSpot)`,
            },
          ];
        if (!m.mapping.fields[field])
          return [{ field, reason: `is not mapped to a property of HubSpot ${type}` }];
        return [];
      });
    },
  };
}

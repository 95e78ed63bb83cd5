// Maps a stored HubSpot record again with the current config (`trueup dlq replay`, `trueup
// remap`): the extraction's own row-to-change (hubspotRecordChange) over the stored record — a
// staged row's raw or a dead letter's — with the object type's current mapping. Only properties
// that were requested when the record was read are in it (HubSpot returns every requested one,
// null when unset): a property the current mapping adds is not there, and the record fails with
// that reason rather than a silent null (re-read it with `trueup backfill`).
import type { Entity } from '../../../staging/model/entities.js';
import { TrueupError } from '../../../staging/model/errors.js';
import type { RecordRemap, RemapSource } from '../../../staging/remap.js';
import type { RemapSystem } from '../contract.js';
import { parseStampMs, stampProblem, tenantEntityMapping } from '../map-record.js';
import type { HubspotObjectType, HubspotSystemConfig } from './config.js';
import { archivedTombstone, hubspotRecordChange, hubspotRecordStamp } from './hubspot-extractor.js';
import { HUBSPOT_PROPERTY, hubspotEntity, hubspotObjectMapping } from './hubspot-mapping.js';
import type { HubspotRecord } from './hubspot-pages.js';

export function hubspotRemapper(sys: RemapSystem<HubspotSystemConfig>, entity: Entity): RecordRemap {
  const tenant = tenantEntityMapping(sys.entities, entity, sys.system, HUBSPOT_PROPERTY);
  const types = sys.config.objects.filter((t) => hubspotEntity(t) === entity);
  if (!types.length)
    throw new TrueupError(`hubspot system ${sys.system} extracts no object type of ${entity}`);
  const mappings = new Map(types.map((t) => [t, hubspotObjectMapping(t, sys.config, tenant)]));
  return (source) => {
    const r = source.raw as HubspotRecord | null;
    if (!r || typeof r !== 'object' || typeof r.id !== 'string' || !r.id || !r.properties)
      throw new TrueupError('the stored record has no id or properties');
    const type = objectType(types, source, r);
    const m = mappings.get(type)!;
    if (r.archived === true || r.archivedAt) {
      // A record of the archived list (its stamp was in the future when read): its delete.
      const at = parseStampMs(r.archivedAt) ?? parseStampMs(r.updatedAt);
      const problem = stampProblem(at, Date.now(), 'archivedAt', r.archivedAt ?? r.updatedAt);
      if (at === null || problem !== null)
        throw new TrueupError(`hubspot ${type} ${r.id}: archived record: ${problem}`);
      return archivedTombstone(r, at);
    }
    const absent = Object.values(m.mapping.fields).filter((p) => !Object.hasOwn(r.properties, p));
    if (absent.length)
      throw new TrueupError(
        `hubspot ${type} ${r.id}: the stored record lacks ${absent.map((p) => `"${p}"`).join(', ')} ` +
          '(not requested when it was read): re-read it with `trueup backfill --ids`',
      );
    const stamp = hubspotRecordStamp(m, r);
    const problem = stampProblem(stamp, Date.now(), m.modifiedProperty, r.properties[m.modifiedProperty]);
    if (stamp === null || problem !== null) throw new TrueupError(`hubspot ${type} ${r.id}: ${problem}`);
    return hubspotRecordChange(m, sys.config.role, r, stamp);
  };
}

/**
 * Which object type a stored record is of: the only one of its entity, else the one a dead
 * letter's location names ("hubspot contacts"), else by its stamp property (contacts stamp
 * `lastmodifieddate`, the other types `hs_lastmodifieddate`).
 */
function objectType(
  types: readonly HubspotObjectType[],
  source: RemapSource,
  r: HubspotRecord,
): HubspotObjectType {
  if (types.length === 1) return types[0]!;
  const named = /^hubspot ([a-z]+)/.exec(source.location ?? '')?.[1];
  const byLocation = types.find((t) => t === named);
  if (byLocation) return byLocation;
  const contacts = types.includes('contacts') && Object.hasOwn(r.properties, 'lastmodifieddate');
  if (contacts) return 'contacts';
  const others = types.filter((t) => t !== 'contacts');
  if (others.length === 1) return others[0]!;
  throw new TrueupError(`cannot tell which of ${types.join(', ')} the stored record ${r.id} is`);
}

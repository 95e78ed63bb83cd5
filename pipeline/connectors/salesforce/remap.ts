// Maps a stored Salesforce record again with the current config (`trueup dlq replay`, `trueup
// remap`): the extraction's own row mapper (compileRowMapper) over the stored record — a staged
// row's raw or a dead letter's row, both field → value as the Bulk result had them. Only fields
// selected when the record was read are in it: a field the current mapping adds fails the record
// with that reason (re-read it with `trueup backfill --ids`).
import type { Entity } from '../../../staging/model/entities.js';
import { TrueupError } from '../../../staging/model/errors.js';
import type { RecordRemap, RemapSource } from '../../../staging/remap.js';
import type { RemapSystem } from '../contract.js';
import { stampProblem, tenantEntityMapping } from '../map-record.js';
import type { SalesforceSystemConfig } from './config.js';
import { compileRowMapper, type ObjectMapping, resolveMappings, SALESFORCE_FIELD } from './mapping.js';

export function salesforceRemapper(sys: RemapSystem<SalesforceSystemConfig>, entity: Entity): RecordRemap {
  const mappings = resolveMappings({
    role: sys.config.role,
    ...(sys.config.objects ? { objects: sys.config.objects } : {}),
    entityOverrides: (e) => tenantEntityMapping(sys.entities, e, sys.system, SALESFORCE_FIELD),
  }).filter((m) => m.entity === entity);
  if (!mappings.length)
    throw new TrueupError(`salesforce system ${sys.system} reads no SObject of ${entity}`);
  return (source) => {
    const raw = source.raw;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw))
      throw new TrueupError('the stored Salesforce record is not a record of field values');
    const record = raw as Record<string, unknown>;
    const m = objectOf(mappings, source);
    const absent = Object.values(m.fields).filter((f) => !Object.hasOwn(record, f));
    if (absent.length)
      throw new TrueupError(
        `${m.sobject}: the stored record lacks ${absent.join(', ')} (not selected when it was read): re-read it with \`trueup backfill --ids\``,
      );
    const header = Object.keys(record);
    const cells = header.map((h) => (record[h] === null || record[h] === undefined ? '' : String(record[h])));
    const change = compileRowMapper(m, header)(cells);
    const problem = stampProblem(Number(change.version / 1000n), Date.now(), 'SystemModstamp');
    if (problem) throw new TrueupError(`${m.sobject} ${change.sourceId}: ${problem}`);
    return change;
  };
}

/** The SObject of a stored record: the only one of its entity, else the one a letter's location names. */
function objectOf(mappings: readonly ObjectMapping[], source: RemapSource): ObjectMapping {
  if (mappings.length === 1) return mappings[0]!;
  const named = /^salesforce (\S+)/.exec(source.location ?? '')?.[1];
  const m = mappings.find((x) => x.sobject === named);
  if (m) return m;
  throw new TrueupError(
    `cannot tell which of ${mappings.map((x) => x.sobject).join(', ')} the stored record is (several SObjects feed this entity)`,
  );
}

// Maps a stored SuiteQL row again with the current config (`trueup dlq replay`, `trueup remap`):
// the extraction's own rowChange over the stored row (a staged row's raw, or the raw of the change
// the write path refused). Two things only the account knows are not asked for again:
// - the version: the stored one (the row's lastmodifieddate turned into an instant on the
//   account's clock when it was read); a letter of a row that failed before it had one (an
//   unreadable or future stamp) needs the source (RemapNeedsSourceError);
// - currency references (internal id → ISO code through the account's currency list): a staged
//   row keeps its staged code (keepFields), a refused change gives the code it was read with.
// Columns not selected when the row was read are not in it: NetSuite leaves null columns out, so
// a column the current mapping adds reads as null — re-read with `trueup backfill` after adding one.
import type { Entity } from '../../../staging/model/entities.js';
import { TrueupError } from '../../../staging/model/errors.js';
import { type RecordRemap, RemapNeedsSourceError } from '../../../staging/remap.js';
import type { RemapSystem } from '../contract.js';
import { tenantEntityMapping } from '../map-record.js';
import type { NetsuiteSystemConfig } from './config.js';
import type { AccountFacts } from './netsuite-account.js';
import { rowChange } from './netsuite-extractor.js';
import { netsuiteEntity, netsuiteStreamSpec, SUITEQL_COLUMN } from './netsuite-mapping.js';
import type { SuiteqlRow } from './suiteql-page.js';

/** No account facts offline: currency ids stay ids (replaced below), no clock is read. */
const OFFLINE: AccountFacts = { clockOffsetMs: 0, zoneOffsetMs: 0, currencies: new Map() };

export function netsuiteRemapper(sys: RemapSystem<NetsuiteSystemConfig>, entity: Entity): RecordRemap {
  const stream = sys.config.streams.find((s) => netsuiteEntity(s) === entity);
  if (!stream) throw new TrueupError(`netsuite system ${sys.system} reads no stream of ${entity}`);
  const spec = netsuiteStreamSpec(
    stream,
    sys.config,
    tenantEntityMapping(sys.entities, entity, sys.system, SUITEQL_COLUMN),
  );
  const currencyColumns = new Set(spec.currencyColumns);
  const currencyFields = Object.entries(spec.mapping.fields)
    .filter(([, column]) => currencyColumns.has(column))
    .map(([field]) => field);
  const how = {
    facts: OFFLINE,
    currency: currencyColumns,
    ownRef: sys.config.role === 'erp' ? 'erp_ref' : 'crm_ref',
  };
  return (source) => {
    const row = source.raw as SuiteqlRow | null;
    if (!row || typeof row !== 'object' || Array.isArray(row))
      throw new TrueupError('the stored SuiteQL row is not a record of column values');
    const id = Number(row.id);
    if (!Number.isSafeInteger(id)) throw new TrueupError(`the stored ${stream} row has no integer id`);
    if (!source.stored)
      throw new RemapNeedsSourceError(
        `netsuite ${stream} ${id}: the row was dead-lettered before it had a version (its lastmodifieddate); re-read it with \`trueup backfill --ids ${id}\``,
      );
    const change = rowChange(spec, row, id, Number(source.stored.version / 1000n), how);
    change.version = source.stored.version;
    change.sourceUpdatedAt = source.stored.sourceUpdatedAt ?? change.sourceUpdatedAt ?? null;
    if (currencyFields.length) {
      const fields = { ...change.fields };
      if (source.staged) {
        for (const f of currencyFields) delete fields[f];
        change.keepFields = currencyFields;
      } else
        for (const f of currencyFields) {
          const code = source.stored.fields?.[f];
          if (fields[f] != null && typeof code !== 'string')
            throw new RemapNeedsSourceError(
              `netsuite ${stream} ${id}: ${f} is a currency reference only the account can translate; re-read the row with \`trueup backfill --ids ${id}\``,
            );
          fields[f] = fields[f] == null ? null : code;
        }
      change.fields = fields;
    }
    return change;
  };
}

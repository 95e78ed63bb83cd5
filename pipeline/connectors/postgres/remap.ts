// Maps a stored Postgres row again with the current table mapping (`trueup dlq replay`, `trueup
// remap`), offline: the row as text (staged raw, or the raw of a dead letter's change) through the
// table's own TableMapper, as a snapshot row is mapped. Plain-column fields, value maps and the
// updatedAt column are re-evaluated; what only the source can evaluate is not:
// - `sql:` expression fields: a staged row (trueup remap) keeps their staged values (keepFields);
//   a dead letter cannot be completed offline (RemapNeedsSourceError: the replay then stages its
//   stored change as it was) — re-read such records with `trueup backfill --ids`;
// - `filter` and `softDelete`: the row was in scope and live when read; that is kept (a staged
//   row stays live, a dead letter keeps its stored op).
import type { Change } from '../../../staging/model/change.js';
import type { Entity } from '../../../staging/model/entities.js';
import { TrueupError } from '../../../staging/model/errors.js';
import { type RecordRemap, RemapNeedsSourceError } from '../../../staging/remap.js';
import type { RemapSystem } from '../contract.js';
import type { PostgresSystemConfig } from './config.js';
import { TableMapper } from './mapping.js';

export function postgresRemapper(sys: RemapSystem<PostgresSystemConfig>, entity: Entity): RecordRemap {
  const table = sys.config.tables.find((t) => t.entity === entity);
  if (!table) throw new TrueupError(`postgres system ${sys.system} maps no table to ${entity}`);
  const mapper = new TableMapper(table, sys.entities?.[entity]?.mappingVersion);
  const sqlFields = Object.entries(table.fields)
    .filter(([, source]) => 'sql' in source)
    .map(([name]) => name);
  const sqlUpdatedAt = !!table.updatedAt && 'sql' in table.updatedAt;
  return (source) => {
    const raw = source.raw;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw))
      throw new TrueupError('the stored row is not a record of column values');
    const versionText = source.letter?.version;
    const version =
      source.stored?.version ??
      (typeof versionText === 'string' && /^\d{1,19}$/.test(versionText) ? BigInt(versionText) : undefined);
    if (version === undefined)
      throw new RemapNeedsSourceError(
        `the stored row of ${mapper.label} has no version: re-read it with \`trueup backfill --ids\``,
      );
    if (sqlFields.length && !source.staged)
      throw new RemapNeedsSourceError(
        `${mapper.label} maps ${sqlFields.join(', ')} by SQL expression, which only the source can evaluate: re-read the record with \`trueup backfill --ids\``,
      );
    const row: Record<string, string | null> = {};
    for (const [k, v] of Object.entries(raw)) row[k] = v === null || v === undefined ? null : String(v);
    const change: Change = mapper.fromSnapshotRow(row, version);
    if (sqlFields.length) {
      const fields = { ...change.fields };
      for (const f of sqlFields) delete fields[f];
      change.fields = fields;
      change.keepFields = sqlFields;
    }
    if (sqlUpdatedAt || change.sourceUpdatedAt == null)
      change.sourceUpdatedAt = source.stored?.sourceUpdatedAt ?? change.sourceUpdatedAt ?? null;
    return change;
  };
}

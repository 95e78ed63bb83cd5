// Maps a stored CSV row again with the current config (`trueup dlq replay`, `trueup remap`): the
// file's own mapper (compileCsvMapper) over the header and cells rebuilt from what was stored — a
// staged row's raw (header → cell, an empty cell as null) or a dead letter's row (cells by the
// file's header, with the header and the file's version kept beside it by stage-file.ts).
import type { Entity } from '../../../staging/model/entities.js';
import { TrueupError } from '../../../staging/model/errors.js';
import type { RecordRemap, RemapSource } from '../../../staging/remap.js';
import type { RemapSystem } from '../contract.js';
import { tenantEntityMapping } from '../map-record.js';
import { type CsvSystemConfig, csvEntityConfig } from './config.js';
import { type CsvRowMapper, compileCsvMapper, type FileContext } from './csv-mapping.js';
import { csvFormats } from './stage-file.js';

export function csvRemapper(sys: RemapSystem<CsvSystemConfig>, entity: Entity): RecordRemap {
  const entityConfig = sys.config.entities?.[entity] ?? csvEntityConfig.parse({});
  const how = {
    tenant: tenantEntityMapping(sys.entities, entity, sys.system),
    formats: csvFormats(sys.config),
  };
  // One compiled mapper per header seen (files of one entity usually share one).
  const mappers = new Map<string, CsvRowMapper>();
  return (source) => {
    const { header, cells } = rowOf(source);
    // A stored change whose raw lacks the id column (a record staged by other means) keeps its id.
    if (source.stored && !header.some((h) => h.trim() === entityConfig.idColumn)) {
      header.push(entityConfig.idColumn);
      cells.push(source.stored.sourceId);
    }
    const key = header.join('\0');
    let mapper = mappers.get(key);
    if (!mapper) {
      mapper = compileCsvMapper(entity, entityConfig, header, how);
      mappers.set(key, mapper);
    }
    return mapper(cells, fileContext(source, entityConfig.versionColumn));
  };
}

/** The header and cells of a stored row. */
function rowOf(source: RemapSource): { header: string[]; cells: string[] } {
  const raw = source.raw;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new TrueupError('the stored CSV row is not a record of cells by header');
  const record = raw as Record<string, unknown>;
  const cell = (v: unknown) =>
    v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  const kept = source.letter?.header;
  if (Array.isArray(kept) && kept.every((h) => typeof h === 'string')) {
    // A dead letter's row: cells in the file's header order, extra cells as extra_<i>.
    const header = kept as string[];
    const cells = header.map((h) => cell(record[h]));
    for (let i = header.length; Object.hasOwn(record, `extra_${i}`); i++)
      cells.push(cell(record[`extra_${i}`]));
    return { header, cells };
  }
  // A staged row (or a letter from before the header was kept): jsonb keeps no key order, but
  // the mapper finds columns by name.
  const header = Object.keys(record);
  return { header, cells: header.map((h) => cell(record[h])) };
}

/** The version and time of a row without a version column: the file's, as stored. */
function fileContext(source: RemapSource, versionColumn: string | undefined): FileContext {
  const v = source.letter?.fileVersion;
  if (typeof v === 'string' && /^\d{1,19}$/.test(v))
    return {
      fileVersion: BigInt(v),
      fileTime:
        typeof source.letter?.fileTime === 'string' ? source.letter.fileTime : new Date(0).toISOString(),
    };
  if (source.stored)
    return {
      fileVersion: source.stored.version,
      fileTime: source.stored.sourceUpdatedAt ?? new Date(0).toISOString(),
    };
  if (versionColumn) return { fileVersion: 0n, fileTime: new Date(0).toISOString() };
  throw new TrueupError(
    'the dead letter does not keep its file version (it was dead-lettered by an older trueup): drop the file again, or backfill the record',
  );
}

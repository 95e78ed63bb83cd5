// Header mapping of dropped CSV files: which column feeds which canonical field, and the
// conversion of one row into a validated canonical Change. Problems are raised per row with a
// kind (parse, mapping, invalid_record) so the caller dead-letters that row with its file and
// line and goes on with the rest of the file.
import { validateCanonical } from '../../../staging/model/canonical-schemas.js';
import type { Change } from '../../../staging/model/change.js';
import { type DateFormat, naiveTimestampToUtc, parseDate } from '../../../staging/model/date-text.js';
import { type NumberFormat, parseLocaleNumber } from '../../../staging/model/decimal-text.js';
import { ENTITY_FIELDS, type Entity, type FieldType } from '../../../staging/model/entities.js';
import { TrueupError } from '../../../staging/model/errors.js';
import { CanonicalValueError } from '../../../staging/model/value-error.js';
import { csvRawRecord, recordChange, type TenantEntityMapping } from '../map-record.js';
import type { CsvEntityConfig } from './config.js';

/** How a system's files write numbers, dates and times (config.ts). */
export interface CsvFormats {
  /** Declared number format; absent: "1234.5" or "1,234.50". */
  number?: NumberFormat;
  /** Declared date format; absent: ISO. */
  dateFormat?: DateFormat;
  /** The zone of naive timestamps. */
  timezone: string;
}

const ISO_FORMATS: CsvFormats = { timezone: 'UTC' };

export class CsvRowError extends TrueupError {
  override name = 'CsvRowError';
  constructor(
    readonly errorKind: 'parse' | 'mapping' | 'invalid_record',
    message: string,
  ) {
    super(message);
  }
}

/** The file cannot be read as this entity at all (no id column): one dead letter for the file. */
export class CsvHeaderError extends TrueupError {
  override name = 'CsvHeaderError';
}

export interface FileContext {
  /** Version of rows without a version column: the file's mtime in epoch µs. */
  fileVersion: bigint;
  fileTime: string;
}

export type CsvRowMapper = (cells: readonly string[], file: FileContext) => Change;

const TRUE = new Set(['true', '1', 'yes', 'y', 'x', 't']);
const FALSE = new Set(['false', '0', 'no', 'n', '', 'f']);

/**
 * Compiles the mapper of one file from its header. Columns, in order of precedence: the system's
 * `entities.<e>.columns`, the tenant's `entities.<e>.mapping.<system>.fields`, then headers equal
 * to a canonical field name ("" unmaps a field); value maps likewise.
 */
export function compileCsvMapper(
  entity: Entity,
  cfg: CsvEntityConfig,
  header: readonly string[],
  how: { tenant?: TenantEntityMapping; formats?: CsvFormats } = {},
): CsvRowMapper {
  const { tenant = {}, formats = ISO_FORMATS } = how;
  const names = header.map((h, i) => (i === 0 ? h.replace(/^\uFEFF/, '') : h).trim());
  if (names.some((h) => h.includes('\0')))
    throw new CsvHeaderError('the header contains a NUL character, which Postgres cannot store');
  const pos = new Map(names.map((h, i) => [h, i]));
  const col = (name: string, what: string) => {
    const i = pos.get(name);
    if (i === undefined)
      throw new CsvHeaderError(`the header has no ${what} column "${name}" (found: ${names.join(', ')})`);
    return i;
  };
  const idAt = col(cfg.idColumn, 'id');
  const versionAt = cfg.versionColumn ? col(cfg.versionColumn, 'version') : undefined;
  const deleteAt = cfg.deleteColumn ? col(cfg.deleteColumn, 'delete') : undefined;
  const mapped: Record<string, string> = { ...tenant.overrides?.fields, ...cfg.columns };
  const valueMaps = { ...tenant.overrides?.valueMaps, ...cfg.valueMaps };
  const mappingVersion = tenant.mappingVersion;
  const plan: {
    field: string;
    at: number;
    type: FieldType;
    map: Readonly<Record<string, string>> | undefined;
  }[] = [];
  for (const def of ENTITY_FIELDS[entity]) {
    const source = mapped[def.name] ?? (pos.has(def.name) ? def.name : undefined);
    if (source === undefined || source === '') continue;
    plan.push({ field: def.name, at: col(source, def.name), type: def.type, map: valueMaps[def.name] });
  }
  for (const field of Object.keys(mapped))
    if (!ENTITY_FIELDS[entity].some((d) => d.name === field))
      throw new CsvHeaderError(`columns maps unknown ${entity} field "${field}"`);

  return (cells, file) => {
    if (cells.length !== names.length)
      throw new CsvRowError('parse', `row has ${cells.length} cells, the header has ${names.length}`);
    const id = cells[idAt]!.trim();
    if (!id) throw new CsvRowError('mapping', `empty id column "${cfg.idColumn}"`);
    let version = file.fileVersion;
    let sourceUpdatedAt = file.fileTime;
    if (versionAt !== undefined) {
      const v = cells[versionAt]!.trim();
      if (/^\d{1,18}$/.test(v)) version = BigInt(v);
      else {
        const at = csvTimestamp(v, formats);
        if (at === null)
          throw new CsvRowError(
            'mapping',
            `version "${v}" in column "${cfg.versionColumn}" is neither an integer nor a timestamp${formats.dateFormat ? ` (dates as ${formats.dateFormat})` : ''}`,
          );
        version = epochMicros(at);
        sourceUpdatedAt = at;
      }
    }
    // Postgres cannot store U+0000 (raw is jsonb): caught here, the dead letter names the line.
    const nulAt = cells.findIndex((c) => c.includes('\0'));
    if (nulAt >= 0)
      throw new CsvRowError(
        'invalid_record',
        `${entity} ${id}: column "${names[nulAt]}" contains a NUL character, which Postgres cannot store`,
      );
    const record = { sourceId: id, version, raw: csvRawRecord(names, cells), sourceUpdatedAt };
    if (deleteAt !== undefined && TRUE.has(cells[deleteAt]!.trim().toLowerCase()))
      return recordChange(record, 'delete');
    const fields: Record<string, unknown> = {};
    for (const p of plan) fields[p.field] = convert(p, cells[p.at]!, formats);
    const problem = validateCanonical(entity, fields);
    if (problem) throw new CsvRowError('invalid_record', `${entity} ${id}: ${problem}`);
    return recordChange(record, fields, mappingVersion);
  };
}

function convert(
  p: { field: string; type: FieldType; map: Readonly<Record<string, string>> | undefined },
  cell: string,
  formats: CsvFormats,
): unknown {
  const { field, type, map } = p;
  const v = cell.trim();
  if (v === '') return null;
  const value = (map && Object.hasOwn(map, v) ? map[v] : undefined) ?? v;
  switch (type) {
    case 'boolean': {
      const l = value.toLowerCase();
      if (TRUE.has(l)) return true;
      if (FALSE.has(l)) return false;
      throw new CsvRowError('mapping', `${field} "${value}" is not a boolean`);
    }
    case 'decimal':
      if (formats.number) return read(field, () => parseLocaleNumber(value, formats.number!));
      // Undeclared: thousands separators are common in finance exports; a comma decimal is
      // ambiguous, so it is left for validation to refuse (declare decimalSeparator).
      return /^-?\d{1,3}(,\d{3})+(\.\d+)?$/.test(value) ? value.replaceAll(',', '') : value;
    case 'date':
      return formats.dateFormat ? read(field, () => parseDate(value, formats.dateFormat!)) : value;
    case 'timestamp': {
      const at = csvTimestamp(value, formats);
      if (at === null) throw new CsvRowError('mapping', `${field} "${value}" is not a timestamp`);
      return at;
    }
    case 'json':
      try {
        return JSON.parse(value);
      } catch {
        throw new CsvRowError('mapping', `${field} is not JSON`);
      }
    default:
      return value;
  }
}

/** A declared-format read: its error becomes the row's, naming the field. */
function read(field: string, fn: () => string): string {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CanonicalValueError)
      throw new CsvRowError('invalid_record', `${field}: ${err.message}`);
    throw err;
  }
}

/**
 * A timestamp as the files write it → canonical UTC text, or null: the date part in the declared
 * dateFormat (ISO otherwise), a naive time read in the system's timezone, an offset kept.
 */
export function csvTimestamp(text: string, formats: CsvFormats): string | null {
  let s = text.trim();
  if (formats.dateFormat && !/^\d{4}-\d{2}-\d{2}(?:[T ]|$)/.test(s)) {
    const cut = s.search(/[ T]/);
    const datePart = cut < 0 ? s : s.slice(0, cut);
    try {
      s = `${parseDate(datePart, formats.dateFormat)}${cut < 0 ? '' : ` ${s.slice(cut + 1).trim()}`}`;
    } catch {
      return null;
    }
  }
  try {
    return naiveTimestampToUtc(s, formats.timezone);
  } catch (err) {
    if (err instanceof CanonicalValueError) return null;
    throw err;
  }
}

/** Canonical UTC text ("…T10:00:00.123456Z") → epoch microseconds, the fraction kept whole. */
export function epochMicros(utc: string): bigint {
  const m = /^(.*?)(?:\.(\d{1,6}))?Z$/.exec(utc);
  const seconds = Date.parse(`${m?.[1] ?? utc}Z`) / 1000;
  return BigInt(seconds) * 1_000_000n + BigInt((m?.[2] ?? '').padEnd(6, '0') || '0');
}

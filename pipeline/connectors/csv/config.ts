// Config of a `csv` system: file drops from finance or legacy systems, read from
// <dropDir>/<folder>/*.csv (folder defaults to the entity name; {tenant} in dropDir is replaced
// by the tenant id), each file processed exactly once by content hash. Per entity: the id column,
// an optional version column (default: the file's modification time), a delete column, column
// overrides (canonical ← header) and value maps. Header overrides may also sit under
// `tenants.<t>.entities.<entity>.mapping.<system>.fields`. Per system: how the files write
// numbers and dates, and the time zone of naive timestamps. Per entity, `snapshot: full` makes
// each complete file the whole truth for the entity. Example: docs/capture.md, "CSV drops".
import { z } from 'zod';
import { DATE_FORMATS } from '../../../staging/model/date-text.js';
import type { NumberFormat } from '../../../staging/model/decimal-text.js';
import { ENTITIES } from '../../../staging/model/entities.js';
import { timezone } from '../../../staging/model/tenant-config.js';

export const csvEntityConfig = z.strictObject({
  /** Sub-folder of dropDir holding this entity's files (default: the entity name). */
  folder: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'a folder name without slashes')
    .refine((s) => s !== '.' && s !== '..', 'a folder name without slashes')
    .optional(),
  /** Header of the column holding the record's id in the source. */
  idColumn: z.string().min(1).default('id'),
  /** Header of a modification timestamp (ISO) or integer version; default the file's mtime. */
  versionColumn: z.string().min(1).optional(),
  /** Header of a column that marks deleted records (true/1/yes/y/x → tombstone). */
  deleteColumn: z.string().min(1).optional(),
  /** canonical field ← header. Headers equal to a canonical field name map without being listed. */
  columns: z.record(z.string(), z.string()).default({}),
  /** canonical field → (file value → canonical value). */
  valueMaps: z.record(z.string(), z.record(z.string(), z.string())).default({}),
  /**
   * `incremental` (default): a file adds and changes records. `full`: each complete file is
   * every record of the entity; records staged before and absent from it are tombstoned.
   */
  snapshot: z.enum(['incremental', 'full']).default('incremental'),
  /**
   * `snapshot: full` only: a file with fewer rows than this share of the live staged records is
   * refused as a probable partial export (a dead letter, and the sync exits 1).
   */
  minSnapshotShare: z.number().min(0).max(1).default(0.5),
});
export type CsvEntityConfig = z.infer<typeof csvEntityConfig>;

export const csvSystemConfig = z
  .looseObject({
    kind: z.literal('csv'),
    role: z.enum(['crm', 'erp']),
    dropDir: z.string().min(1),
    delimiter: z.string().length(1).default(','),
    /** The decimal mark of the files' numbers: "." (1,234.50) or "," (1.234,50). */
    decimalSeparator: z.enum(['.', ',']).optional(),
    /** Their digit grouping; default "," with a "." decimal mark and "." with a "," one; "" for none. */
    thousandsSeparator: z.enum([',', '.', "'", ' ', '']).optional(),
    /** How the files write dates (date fields, and the date part of timestamps); default ISO. */
    dateFormat: z.enum(DATE_FORMATS).optional(),
    /** The IANA zone of timestamps without an offset (version column, timestamp fields). */
    timezone: timezone.default('UTC'),
    /** Entities to read; absent: every entity whose folder exists, with headers equal to field names. */
    entities: z.partialRecord(z.enum(ENTITIES), csvEntityConfig).optional(),
    /** Rows per staging transaction. */
    batchSize: z.number().int().min(1).max(200_000).default(5_000),
  })
  .refine(
    (c) => {
      const f = numberFormat(c);
      return !f || f.thousandsSeparator !== f.decimalSeparator;
    },
    {
      message: 'decimalSeparator and thousandsSeparator must differ',
      path: ['thousandsSeparator'],
    },
  );
export type CsvSystemConfig = z.infer<typeof csvSystemConfig>;

/**
 * The number format the system declares, with the default grouping mark filled in; undefined
 * when it declares none (numbers then read as "1234.5" or "1,234.50", anything else left to
 * canonical validation).
 */
export function numberFormat(
  c: Pick<CsvSystemConfig, 'decimalSeparator' | 'thousandsSeparator'>,
): NumberFormat | undefined {
  if (c.decimalSeparator === undefined && c.thousandsSeparator === undefined) return undefined;
  const decimalSeparator = c.decimalSeparator ?? '.';
  return {
    decimalSeparator,
    thousandsSeparator: c.thousandsSeparator ?? (decimalSeparator === ',' ? '.' : ','),
  };
}

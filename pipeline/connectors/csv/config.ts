// Config of a `csv` system: file drops from finance or legacy systems, read from
// <dropDir>/<folder>/*.csv (folder defaults to the entity name; {tenant} in dropDir is replaced
// by the tenant id), each file processed exactly once by content hash. Per entity: the id column,
// an optional version column (default: the file's modification time), a delete column, column
// overrides (canonical ← header) and value maps. Header overrides may also sit under
// `tenants.<t>.entities.<entity>.mapping.<system>.fields`. Example: docs/capture.md, "CSV drops".
import { z } from 'zod';
import { ENTITIES } from '../../../staging/model/entities.js';

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
});
export type CsvEntityConfig = z.infer<typeof csvEntityConfig>;

export const csvSystemConfig = z.looseObject({
  kind: z.literal('csv'),
  role: z.enum(['crm', 'erp']),
  dropDir: z.string().min(1),
  delimiter: z.string().length(1).default(','),
  /** Entities to read; absent: every entity whose folder exists, with headers equal to field names. */
  entities: z.partialRecord(z.enum(ENTITIES), csvEntityConfig).optional(),
  /** Rows per staging transaction. */
  batchSize: z.number().int().min(1).max(200_000).default(5_000),
});
export type CsvSystemConfig = z.infer<typeof csvSystemConfig>;

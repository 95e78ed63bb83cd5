// Staging one dropped CSV file of one entity: parsed on a parse thread while this thread maps
// rows into units of batchSize, each committed with the position after it. Bad rows become dead
// letters with file and line (bytes that are not UTF-8 too, with their offset: utf8-scan.ts);
// the rest of the file is staged. A `snapshot: full` entity's complete file also tombstones the
// records it lacks, in the commit that records the file (full-snapshot.ts).
import { constants, createReadStream } from 'node:fs';
import type pg from 'pg';
import type { NewDeadLetter } from '../../../staging/control/dead-letters.js';
import type { Change } from '../../../staging/model/change.js';
import type { Entity } from '../../../staging/model/entities.js';
import type { StreamOutput } from '../contract.js';
import { csvCellsByHeader, type TenantEntityMapping } from '../map-record.js';
import { addChange, newPendingUnit } from '../pending-unit.js';
import { type CsvEntityConfig, type CsvSystemConfig, numberFormat } from './config.js';
import {
  type CsvFormats,
  CsvHeaderError,
  CsvRowError,
  type CsvRowMapper,
  compileCsvMapper,
} from './csv-mapping.js';
import { absentRecords, PartialExportError, refusal, startFullSnapshot } from './full-snapshot.js';
import { CsvParseError, parseCsvChunks } from './parse-csv-stream.js';
import { Utf8Scan } from './utf8-scan.js';

export interface CsvPosition {
  /** sha256 of every file fully processed. */
  processed: string[];
  /** A file staged part-way: its first `rows` data rows are staged. */
  current?: { hash: string; file: string; rows: number };
}

export interface CsvFile {
  path: string;
  name: string;
  mtimeMs: number;
}

/** One entity's stream of files. */
export interface FileStream {
  tenant: string;
  system: string;
  entity: Entity;
  config: CsvSystemConfig;
  entityConfig: CsvEntityConfig;
  folder: string;
  tenantMapping: TenantEntityMapping;
  /** The staging pool (`snapshot: full` reads the staged records). */
  pool: pg.Pool;
  out: StreamOutput<CsvPosition>;
  /** A re-read stages only the changes this keeps, and dead-letters nothing (the first read did). */
  keep?: (change: Change) => boolean;
}

/**
 * Stages one file from `position` (resuming inside it when the position says so). Returns the
 * refusal of a `snapshot: full` file too short to be the whole entity (its rows are staged,
 * nothing is tombstoned; a dead letter says why), else null.
 */
export async function stageFile(
  ctx: FileStream,
  file: CsvFile,
  hash: string,
  position: CsvPosition,
): Promise<PartialExportError | null> {
  const resumeAfter = position.current?.hash === hash ? position.current.rows : 0;
  const fileCtx = {
    fileVersion: BigInt(Math.floor(file.mtimeMs)) * 1000n,
    fileTime: new Date(Math.floor(file.mtimeMs)).toISOString(),
  };
  const unit = newPendingUnit();
  const dead = (
    kind: string,
    message: string,
    line: number,
    record: unknown,
    sourceId: string | null = null,
  ): void => {
    if (ctx.keep) return;
    const letter: NewDeadLetter = {
      tenant: ctx.tenant,
      system: ctx.system,
      entity: ctx.entity,
      sourceId,
      record,
      errorKind: kind,
      errorMessage: `${file.name} line ${line}: ${message}`,
      location: `${file.path} line ${line}`,
    };
    unit.deadLetters.push(letter);
    unit.rows++;
  };
  let mapper: CsvRowMapper | undefined;
  let header: string[] | undefined;
  let idAt = -1;
  let line = 1; // physical line where the next row starts
  let rows = 0; // data rows seen
  let cutShort = false;
  const scope = { tenant: ctx.tenant, system: ctx.system, entity: ctx.entity };
  const full =
    ctx.entityConfig.snapshot === 'full' && !ctx.keep ? await startFullSnapshot(ctx.pool, scope) : undefined;
  let refused: NewDeadLetter | null = null;
  const utf8 = new Utf8Scan();
  const commit = async (done: boolean) => {
    // Rows of the file read: tombstones of absent records and a refusal were not read.
    ctx.out.received(unit.rows);
    if (done && full && !cutShort) {
      refused = refusal(full, rows, ctx.entityConfig.minSnapshotShare, { ...scope, file });
      if (refused) unit.deadLetters.push(refused);
      else
        for (const gone of await absentRecords(ctx.pool, scope, full, fileCtx.fileVersion, fileCtx.fileTime))
          addChange(unit, ctx.entity, gone);
    }
    const pos: CsvPosition = done
      ? { processed: [...position.processed, hash] }
      : { processed: position.processed, current: { hash, file: file.path, rows } };
    await ctx.out.commit(pos, unit, file.path);
    position.processed = pos.processed;
    if (pos.current) position.current = pos.current;
    else delete position.current;
  };
  try {
    // Parsed on a parse thread (parseCsvChunks) while this thread maps and stages the rows.
    parsing: for await (const group of parseCsvChunks(
      utf8.wrap(
        createReadStream(file.path, {
          flags: (constants.O_RDONLY | constants.O_NOFOLLOW) as unknown as string,
        }),
      ),
      {
        delimiter: ctx.config.delimiter,
        keepEmpty: true,
      },
    ))
      for (const cells of group) {
        const at = line;
        for (const c of cells) for (let i = c.indexOf('\n'); i >= 0; i = c.indexOf('\n', i + 1)) line++;
        line++;
        if (cells.length === 0 || (cells.length === 1 && cells[0] === '')) continue; // blank line
        const badByte = utf8.firstBad(at, line);
        if (!header) {
          header = cells;
          if (badByte) {
            dead('encoding', notUtf8(badByte), at, { file: file.path, header });
            cutShort = true;
            break parsing;
          }
          const names = header.map((h, i) => (i === 0 ? h.replace(/^\uFEFF/, '') : h).trim());
          idAt = names.indexOf(ctx.entityConfig.idColumn);
          try {
            mapper = compileCsvMapper(ctx.entity, ctx.entityConfig, header, {
              tenant: ctx.tenantMapping,
              formats: csvFormats(ctx.config),
            });
          } catch (err) {
            if (!(err instanceof CsvHeaderError)) throw err;
            dead('mapping', err.message, at, { file: file.path, header });
            cutShort = true;
            break parsing;
          }
          continue;
        }
        rows++;
        const id = (idAt >= 0 && cells[idAt]?.trim()) || null;
        if (full && id) full.seen.add(id);
        if (rows <= resumeAfter) continue;
        // The row as read, and what mapping it again needs (csv/remap.ts): the header and the
        // file's version and time (the version of a row without a version column).
        const deadRow = (kind: string, message: string) =>
          dead(
            kind,
            message,
            at,
            {
              raw: csvCellsByHeader(header!, cells),
              file: file.path,
              line: at,
              header,
              fileVersion: fileCtx.fileVersion.toString(),
              fileTime: fileCtx.fileTime,
            },
            id,
          );
        if (badByte) deadRow('encoding', notUtf8(badByte));
        else
          try {
            const change = mapper!(cells, fileCtx);
            if (!ctx.keep || ctx.keep(change)) addChange(unit, ctx.entity, change);
          } catch (err) {
            if (!(err instanceof CsvRowError)) throw err;
            deadRow(err.errorKind, err.message);
          }
        if (unit.rows >= ctx.config.batchSize) await commit(false);
      }
  } catch (err) {
    // An unterminated quote ends parsing: what came before is staged, the rest is one dead letter.
    if (!(err instanceof CsvParseError)) throw err;
    const why = full
      ? '; the rest of the file was not read, and nothing was tombstoned'
      : '; the rest of the file was not read';
    dead('parse', `${err.message}${why}`, line, { file: file.path });
    cutShort = true;
  }
  if (!header) {
    dead('parse', 'the file is empty (no header row)', 1, { file: file.path });
    cutShort = true;
  }
  await commit(true);
  const letter = refused as NewDeadLetter | null;
  return letter ? new PartialExportError(letter.errorMessage, { subject: scope }) : null;
}

function notUtf8(at: { line: number; offset: number }): string {
  return `invalid UTF-8 at byte offset ${at.offset} (line ${at.line}): the file must be UTF-8 (re-export it as UTF-8)`;
}

/** The system's declared number and date formats and time zone. */
export function csvFormats(config: CsvSystemConfig): CsvFormats {
  const number = numberFormat(config);
  return {
    timezone: config.timezone,
    ...(number ? { number } : {}),
    ...(config.dateFormat ? { dateFormat: config.dateFormat } : {}),
  };
}

// Staging one dropped CSV file of one entity: parsed on a parse thread while this thread maps
// rows into units of batchSize, each committed with the position after it. Bad rows become dead
// letters with file and line; the rest of the file is staged.
import { constants, createReadStream } from 'node:fs';
import type { NewDeadLetter } from '../../../staging/control/dead-letters.js';
import type { Change } from '../../../staging/model/change.js';
import type { Entity } from '../../../staging/model/entities.js';
import type { StreamOutput } from '../contract.js';
import { csvCellsByHeader, type TenantEntityMapping } from '../map-record.js';
import { addChange, newPendingUnit } from '../pending-unit.js';
import type { CsvEntityConfig, CsvSystemConfig } from './config.js';
import { CsvHeaderError, CsvRowError, type CsvRowMapper, compileCsvMapper } from './csv-mapping.js';
import { CsvParseError, parseCsvChunks } from './parse-csv-stream.js';

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
  out: StreamOutput<CsvPosition>;
  /** A re-read stages only the changes this keeps, and dead-letters nothing (the first read did). */
  keep?: (change: Change) => boolean;
}

export async function stageFile(
  ctx: FileStream,
  file: CsvFile,
  hash: string,
  position: CsvPosition,
): Promise<void> {
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
  let line = 1; // physical line where the next row starts
  let rows = 0; // data rows seen
  const commit = async (done: boolean) => {
    const pos: CsvPosition = done
      ? { processed: [...position.processed, hash] }
      : { processed: position.processed, current: { hash, file: file.path, rows } };
    ctx.out.received(unit.rows);
    await ctx.out.commit(pos, unit, file.path);
    position.processed = pos.processed;
    if (pos.current) position.current = pos.current;
    else delete position.current;
  };
  try {
    // Parsed on a parse thread (parseCsvChunks) while this thread maps and stages the rows.
    parsing: for await (const group of parseCsvChunks(
      createReadStream(file.path, {
        flags: (constants.O_RDONLY | constants.O_NOFOLLOW) as unknown as string,
      }),
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
        if (!header) {
          header = cells;
          try {
            mapper = compileCsvMapper(ctx.entity, ctx.entityConfig, header, ctx.tenantMapping);
          } catch (err) {
            if (!(err instanceof CsvHeaderError)) throw err;
            dead('mapping', err.message, at, { file: file.path, header });
            break parsing;
          }
          continue;
        }
        rows++;
        if (rows <= resumeAfter) continue;
        try {
          const change = mapper!(cells, fileCtx);
          if (!ctx.keep || ctx.keep(change)) addChange(unit, ctx.entity, change);
        } catch (err) {
          if (!(err instanceof CsvRowError)) throw err;
          const idAt = header.indexOf(ctx.entityConfig.idColumn);
          dead(
            err.errorKind,
            err.message,
            at,
            { raw: csvCellsByHeader(header!, cells), file: file.path, line: at },
            (idAt >= 0 && cells[idAt]) || null,
          );
        }
        if (unit.rows >= ctx.config.batchSize) await commit(false);
      }
  } catch (err) {
    // An unterminated quote ends parsing: what came before is staged, the rest is one dead letter.
    if (!(err instanceof CsvParseError)) throw err;
    dead('parse', `${err.message}; the rest of the file was not read`, line, { file: file.path });
  }
  if (!header) dead('parse', 'the file is empty (no header row)', 1, { file: file.path });
  await commit(true);
}

// Runs one `csv` system of one tenant: for each entity, the files in its drop folder, oldest
// first, each processed exactly once. The stream's checkpoint is the set of content hashes
// already processed (plus, while a large file is half-staged, how many of its rows are), saved
// in the same transaction as the rows — so a duplicate drop is skipped, a crash resumes inside
// the file, and a renamed copy of a processed file is recognised. Bad rows become dead letters
// with file and line; the rest of the file is staged.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadCheckpoint } from '../../../staging/checkpoints.js';
import type { NewDeadLetter } from '../../../staging/dead-letters.js';
import { ENTITIES, type Entity } from '../../../staging/model/entities.js';
import { csvCellsByHeader, type TenantEntityMapping, tenantEntityMapping } from '../map-record.js';
import {
  addChange,
  commitUnit,
  emptyStreamReport,
  finishReport,
  newPendingUnit,
  prepareSystem,
  runStream,
  type StreamReport,
  type SyncDeps,
  type SyncOptions,
  type SyncReport,
} from '../sync-support.js';

import { type CsvEntityConfig, type CsvSystemConfig, csvEntityConfig, csvSystemConfig } from './config.js';
import { CsvHeaderError, CsvRowError, type CsvRowMapper, compileCsvMapper } from './csv-mapping.js';
import { CsvParseError, parseCsvChunks } from './parse-csv-stream.js';

export interface CsvPosition {
  /** sha256 of every file fully processed. */
  processed: string[];
  /** A file staged part-way: its first `rows` data rows are staged. */
  current?: { hash: string; file: string; rows: number };
}

export type CsvSyncOptions = SyncOptions;

interface FileCtx {
  deps: SyncDeps;
  tenant: string;
  system: string;
  entity: Entity;
  config: CsvSystemConfig;
  entityConfig: CsvEntityConfig;
  tenantMapping: TenantEntityMapping;
  report: StreamReport;
  onUnitStaged?: SyncOptions['onUnitStaged'];
}

export async function runCsvSync(
  deps: SyncDeps,
  tenant: string,
  systemName: string,
  systemConfig: unknown,
  opts: CsvSyncOptions = {},
): Promise<SyncReport> {
  const startedAt = Date.now();
  const logger = deps.logger.child({ tenant, system: systemName, connector: 'csv' });
  const key = { tenant, system: systemName, kind: 'csv', startedAt };
  const parsed = prepareSystem(logger, key, () => csvSystemConfig.parse(systemConfig));
  if (!parsed.ok) return parsed.report;
  const config = parsed.value;
  const root = config.dropDir.replaceAll('{tenant}', tenant);
  const entities = config.entities
    ? (Object.entries(config.entities) as [Entity, CsvEntityConfig][])
    : await foldersPresent(root);
  // The tenant's overrides of every entity, checked before anything is read (as the API
  // connectors do): a bad one fails this system with a report, never half of its streams.
  const resolved = prepareSystem(
    logger,
    key,
    () =>
      new Map(entities.map(([entity]) => [entity, tenantEntityMapping(opts.entities, entity, systemName)])),
  );
  if (!resolved.ok) return resolved.report;
  const tenantMappings = resolved.value;
  const streams: StreamReport[] = [];
  for (const [entity, entityConfig] of entities) {
    if (opts.streams && !opts.streams.includes(entity)) continue;
    const key = { tenant, system: systemName, stream: entity };
    const report = emptyStreamReport(entity, entity, 'incremental');
    streams.push(report);
    const tenantMapping = tenantMappings.get(entity)!;
    await runStream(deps.staging.db, key, report, logger, async () => {
      const saved = (await loadCheckpoint(deps.staging.pool, key)) as CsvPosition | null | undefined;
      const position: CsvPosition =
        opts.mode === 'full' || !saved?.processed
          ? { processed: [] }
          : { processed: [...saved.processed], ...(saved.current ? { current: saved.current } : {}) };
      if (!position.processed.length) report.mode = 'full';
      const ctx: FileCtx = {
        deps,
        tenant,
        system: systemName,
        entity,
        config,
        entityConfig,
        tenantMapping,
        report,
        ...(opts.onUnitStaged ? { onUnitStaged: opts.onUnitStaged } : {}),
      };
      const folder = join(root, entityConfig.folder ?? entity);
      let files = 0;
      let duplicates = 0;
      for (const file of await listFiles(folder)) {
        const hash = await sha256(file.path);
        if (position.processed.includes(hash)) {
          duplicates++;
          logger.info({ file: file.path, hash }, 'file already processed (same content); skipped');
          continue;
        }
        await stageFile(ctx, file, hash, position);
        files++;
      }
      report.detail = `${files} file(s) staged, ${duplicates} duplicate(s) skipped`;
    });
  }
  return finishReport(
    { tenant, system: systemName, kind: 'csv', streams, requests: 0, retries: 0, throttled: 0 },
    startedAt,
    null,
  );
}

async function foldersPresent(root: string): Promise<[Entity, CsvEntityConfig][]> {
  const out: [Entity, CsvEntityConfig][] = [];
  for (const e of ENTITIES) {
    const s = await stat(join(root, e)).catch(() => null);
    if (s?.isDirectory()) out.push([e, csvEntityConfig.parse({})]);
  }
  return out;
}

async function listFiles(folder: string): Promise<{ path: string; name: string; mtimeMs: number }[]> {
  const names = await readdir(folder).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const files = [];
  for (const name of names) {
    if (name.startsWith('.') || !/\.csv$/i.test(name)) continue;
    const path = join(folder, name);
    const s = await stat(path);
    if (s.isFile()) files.push({ path, name, mtimeMs: s.mtimeMs });
  }
  // Oldest drop first, so a later drop of the same record wins on equal versions.
  return files.sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
}

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function stageFile(
  ctx: FileCtx,
  file: { path: string; name: string; mtimeMs: number },
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
  ): NewDeadLetter => ({
    tenant: ctx.tenant,
    system: ctx.system,
    entity: ctx.entity,
    sourceId,
    record,
    errorKind: kind,
    errorMessage: `${file.name} line ${line}: ${message}`,
    location: `${file.path} line ${line}`,
  });
  let mapper: CsvRowMapper | undefined;
  let header: string[] | undefined;
  let line = 1; // physical line where the next row starts
  let rows = 0; // data rows seen
  const commit = async (done: boolean) => {
    const pos: CsvPosition = done
      ? { processed: [...position.processed, hash] }
      : { processed: position.processed, current: { hash, file: file.path, rows } };
    const n = unit.rows;
    ctx.report.received += n;
    await commitUnit(ctx.deps.staging.pool, {
      tenant: ctx.tenant,
      system: ctx.system,
      stream: ctx.entity,
      position: pos,
      unit,
      report: ctx.report,
      location: file.path,
    });
    position.processed = pos.processed;
    if (pos.current) position.current = pos.current;
    else delete position.current;
    await ctx.onUnitStaged?.({ stream: ctx.entity, rows: n, position: pos });
  };
  try {
    // Parsed on a parse thread (parseCsvChunks) while this thread maps and stages the rows.
    parsing: for await (const group of parseCsvChunks(createReadStream(file.path), {
      delimiter: ctx.config.delimiter,
      keepEmpty: true,
    }))
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
            unit.deadLetters.push(dead('mapping', err.message, at, { file: file.path, header }));
            unit.rows++;
            break parsing;
          }
          continue;
        }
        rows++;
        if (rows <= resumeAfter) continue;
        try {
          addChange(unit, ctx.entity, mapper!(cells, fileCtx));
        } catch (err) {
          if (!(err instanceof CsvRowError)) throw err;
          const idAt = header.indexOf(ctx.entityConfig.idColumn);
          unit.deadLetters.push(
            dead(
              err.errorKind,
              err.message,
              at,
              {
                raw: csvCellsByHeader(header!, cells),
                file: file.path,
                line: at,
              },
              (idAt >= 0 && cells[idAt]) || null,
            ),
          );
          unit.rows++;
        }
        if (unit.rows >= ctx.config.batchSize) await commit(false);
      }
  } catch (err) {
    // An unterminated quote ends parsing: what came before is staged, the rest is one dead letter.
    if (!(err instanceof CsvParseError)) throw err;
    unit.deadLetters.push(
      dead('parse', `${(err as Error).message}; the rest of the file was not read`, line, {
        file: file.path,
      }),
    );
    unit.rows++;
  }
  if (!header) {
    unit.deadLetters.push(dead('parse', 'the file is empty (no header row)', 1, { file: file.path }));
    unit.rows++;
  }
  await commit(true);
}

// The streams of a `csv` system: one per entity, reading the files of its drop folder, oldest
// first, each processed exactly once. The checkpoint is the set of content hashes processed (plus,
// while a large file is half-staged, how many of its rows are), saved with the rows: a duplicate
// drop is skipped, a crash resumes inside the file, a renamed copy of a processed file is known.
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ENTITIES, type Entity } from '../../../staging/model/entities.js';
import {
  type RereadRequest,
  type SourcePass,
  type StreamOutput,
  type StreamPlan,
  type SystemHandle,
  windowOrIds,
} from '../contract.js';
import { tenantEntityMapping } from '../map-record.js';
import { type CsvEntityConfig, type CsvSystemConfig, csvEntityConfig } from './config.js';
import { PartialExportError } from './full-snapshot.js';
import { type CsvFile, type CsvPosition, type FileStream, stageFile } from './stage-file.js';

export async function openCsvPass(sys: SystemHandle<CsvSystemConfig>): Promise<SourcePass> {
  const { options: opts } = sys;
  const entities = await csvEntities(sys);
  return {
    streams: entities
      .filter((e) => !opts.streams || opts.streams.includes(e.entity))
      .map(
        (e): StreamPlan<CsvPosition> => ({
          name: e.entity,
          entity: e.entity,
          start(saved) {
            const position: CsvPosition =
              opts.mode === 'full' || !saved?.processed
                ? { processed: [] }
                : { processed: [...saved.processed], ...(saved.current ? { current: saved.current } : {}) };
            return {
              mode: position.processed.length ? 'incremental' : 'full',
              read: (out) => readDrops({ ...e, out }, position),
            };
          },
        }),
      ),
  };
}

/**
 * The bounded re-read: every file now in the entity's folder, processed or not, staging only the
 * rows with the given ids or modified in the window (sourceUpdatedAt). Moves no checkpoint.
 */
export async function rereadCsv(
  sys: SystemHandle<CsvSystemConfig>,
  request: RereadRequest,
): Promise<SourcePass> {
  const slice = windowOrIds('csv', request);
  const e = (await csvEntities(sys)).find((x) => x.entity === request.entity);
  const ids = 'ids' in slice ? new Set(slice.ids) : undefined;
  const window = 'window' in slice ? slice.window : undefined;
  const keep = (c: { sourceId: string; sourceUpdatedAt?: string | null }) =>
    ids
      ? ids.has(c.sourceId)
      : !!c.sourceUpdatedAt && c.sourceUpdatedAt >= window!.from && c.sourceUpdatedAt < window!.to;
  const plan: StreamPlan<CsvPosition> | undefined = e && {
    name: e.entity,
    entity: e.entity,
    start: () => ({
      mode: 'full',
      read: async (out) => {
        const skip = (path: string, why: string) => out.logger.warn({ file: path }, `${why}; skipped`);
        for (const file of await listFiles(e.folder, skip))
          await stageFile({ ...e, out, keep }, file, await sha256(file.path), { processed: [] });
      },
    }),
  };
  return { streams: plan ? [plan] : [] };
}

/**
 * The entities to read, each with its folder and the tenant's overrides, checked before anything
 * is read (as the API connectors do): a bad one fails this system, never half of its streams.
 */
async function csvEntities(sys: SystemHandle<CsvSystemConfig>): Promise<Omit<FileStream, 'out'>[]> {
  const { config, tenant, system, options } = sys;
  const root = config.dropDir.replaceAll('{tenant}', tenant);
  const entities = config.entities
    ? (Object.entries(config.entities) as [Entity, CsvEntityConfig][])
    : await foldersPresent(root);
  return entities.map(([entity, entityConfig]) => ({
    tenant,
    system,
    entity,
    config,
    entityConfig,
    folder: join(root, entityConfig.folder ?? entity),
    tenantMapping: tenantEntityMapping(options.entities, entity, system),
    pool: sys.staging.pool,
  }));
}

async function readDrops(ctx: FileStream & { out: StreamOutput<CsvPosition> }, position: CsvPosition) {
  let files = 0;
  let duplicates = 0;
  const refusals: PartialExportError[] = [];
  const skip = (path: string, why: string) => ctx.out.logger.warn({ file: path }, `${why}; skipped`);
  for (const file of await listFiles(ctx.folder, skip)) {
    const hash = await sha256(file.path);
    if (position.processed.includes(hash)) {
      duplicates++;
      ctx.out.logger.info({ file: file.path, hash }, 'file already processed (same content); skipped');
      continue;
    }
    const refused = await stageFile(ctx, file, hash, position);
    if (refused) refusals.push(refused);
    files++;
  }
  ctx.out.note(`${files} file(s) staged, ${duplicates} duplicate(s) skipped`);
  // After every file: a refused full snapshot fails the stream (exit 1), its later files staged.
  if (refusals.length === 1) throw refusals[0];
  if (refusals.length)
    throw new PartialExportError(refusals.map((r) => r.message).join('; '), {
      subject: refusals[0]!.subject,
    });
}

async function foldersPresent(root: string): Promise<[Entity, CsvEntityConfig][]> {
  const out: [Entity, CsvEntityConfig][] = [];
  for (const e of ENTITIES) {
    const s = await stat(join(root, e)).catch(() => null);
    if (s?.isDirectory()) out.push([e, csvEntityConfig.parse({})]);
  }
  return out;
}

/** Regular files only, never through a symlink, and only under the drop folder (docs/security.md). */
async function listFiles(folder: string, skip: (path: string, why: string) => void): Promise<CsvFile[]> {
  const names = await readdir(folder).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const files = [];
  for (const name of names) {
    if (name.startsWith('.') || !/\.csv$/i.test(name)) continue;
    const path = join(folder, name);
    const s = await lstat(path);
    if (s.isSymbolicLink()) {
      skip(path, 'a symlink in a drop folder is not read');
      continue;
    }
    if (!s.isFile()) continue;
    const real = await realpath(path);
    if (real !== join(await realpath(folder), name)) {
      skip(path, 'a file whose real path is outside the drop folder is not read');
      continue;
    }
    files.push({ path, name, mtimeMs: s.mtimeMs });
  }
  // Oldest drop first, so a later drop of the same record wins on equal versions.
  return files.sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
}

// fs.open takes numeric flags; the stream options' type says string only.
export const NO_FOLLOW = (constants.O_RDONLY | constants.O_NOFOLLOW) as unknown as string;

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  // O_NOFOLLOW: a file swapped for a symlink after the listing is not followed.
  for await (const chunk of createReadStream(path, { flags: NO_FOLLOW })) h.update(chunk as Buffer);
  return h.digest('hex');
}

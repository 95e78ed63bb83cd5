// Stages generated data through the one write path (`stageUnit`), as a connector would: upserts
// first, then the deletes of deleted records (a tombstone keeps the last staged values), and the
// xref links that only the xref table knows. For tests, benchmarks and the demo.
import type pg from 'pg';
import type { Change } from '../../staging/model/change.js';
import { ENTITIES, type Entity } from '../../staging/model/entities.js';
import { stageUnit } from '../../staging/stage.js';
import {
  type GeneratedChunk,
  type GeneratedRecord,
  type GeneratedTenant,
  type GenerateOptions,
  generateEntityChunks,
} from './ground-truth.js';

export interface StageGeneratedOptions {
  /** Entities to stage (default all six). */
  entities?: readonly Entity[];
  /** Cases per staging transaction. Default 10,000. */
  chunkSize?: number;
  /** Checkpoint stream name written with each unit (default "generator"). */
  stream?: string;
}

export interface StageGeneratedResult {
  rows: number;
  xrefLinks: number;
}

/** Generates and stages a tenant chunk by chunk (constant memory, fit for millions of rows). */
export async function stageGeneratedTenant(
  pool: pg.Pool,
  opts: GenerateOptions,
  stageOpts: StageGeneratedOptions = {},
): Promise<StageGeneratedResult> {
  const result = { rows: 0, xrefLinks: 0 };
  for (const entity of stageOpts.entities ?? ENTITIES) {
    for (const chunk of generateEntityChunks(opts, entity, { chunkSize: stageOpts.chunkSize ?? 10_000 })) {
      const r = await stageChunk(
        pool,
        opts.tenant,
        opts.systems ?? { crm: 'crm', erp: 'erp' },
        chunk,
        stageOpts,
      );
      result.rows += r.rows;
      result.xrefLinks += r.xrefLinks;
    }
  }
  return result;
}

/** Stages an already generated tenant (the result of `generateTenant`). */
export async function stageTenant(
  pool: pg.Pool,
  gen: GeneratedTenant,
  stageOpts: StageGeneratedOptions = {},
): Promise<StageGeneratedResult> {
  const result = { rows: 0, xrefLinks: 0 };
  for (const entity of stageOpts.entities ?? ENTITIES) {
    const r = await stageChunk(pool, gen.tenant, gen.systems, gen.entities[entity], stageOpts);
    result.rows += r.rows;
    result.xrefLinks += r.xrefLinks;
  }
  return result;
}

/** Stages one chunk: both sides' upserts, then their deletes, then the xref links. */
export async function stageChunk(
  pool: pg.Pool,
  tenant: string,
  systems: { crm: string; erp: string },
  chunk: GeneratedChunk,
  stageOpts: StageGeneratedOptions = {},
): Promise<StageGeneratedResult> {
  const stream = stageOpts.stream ?? 'generator';
  let rows = 0;
  for (const [system, records] of [
    [systems.crm, chunk.crm],
    [systems.erp, chunk.erp],
  ] as const) {
    if (!records.length) continue;
    const upserts = records.map(toUpsert);
    const deletes = records.filter((r) => r.deleted).map(toDelete);
    await stageUnit(pool, {
      tenant,
      system,
      batches: [{ entity: chunk.entity, changes: upserts }],
      checkpoints: [{ stream, position: { entity: chunk.entity, last: records.at(-1)?.sourceId } }],
      location: 'generator',
    });
    if (deletes.length)
      await stageUnit(pool, { tenant, system, batches: [{ entity: chunk.entity, changes: deletes }] });
    rows += records.length;
  }
  if (chunk.xref.length) {
    await pool.query(
      `INSERT INTO control.xref (tenant_id, entity, crm_system, crm_id, erp_system, erp_id, origin, created_by)
       SELECT $1, $2, $3, c, $4, e, 'manual', 'generator' FROM unnest($5::text[], $6::text[]) AS x(c, e)
       ON CONFLICT DO NOTHING`,
      [
        tenant,
        chunk.entity,
        systems.crm,
        systems.erp,
        chunk.xref.map((x) => x.crmId),
        chunk.xref.map((x) => x.erpId),
      ],
    );
  }
  return { rows, xrefLinks: chunk.xref.length };
}

export function toUpsert(r: GeneratedRecord): Change {
  return {
    sourceId: r.sourceId,
    version: r.deleted ? r.version - 1n : r.version,
    op: 'upsert',
    fields: r.fields,
    raw: r.fields,
    sourceUpdatedAt: r.updatedAt,
  };
}

function toDelete(r: GeneratedRecord): Change {
  return { sourceId: r.sourceId, version: r.version, op: 'delete', sourceUpdatedAt: r.updatedAt };
}

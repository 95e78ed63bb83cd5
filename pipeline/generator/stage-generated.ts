// Stages generated data through the one write path (`stageUnit`), as a connector would: upserts
// first, then the deletes of deleted records (a tombstone keeps the last staged values), and the
// xref links that only the xref table knows. For tests, benchmarks and the demo. A record the
// "mapping gone wrong" profile dead-letters is staged with the amount its broken mapping produced
// ("1.234,56 €"): the write path turns it into a dead letter holding the rest of the change, and it
// is never deleted (it never reached staging).
import type pg from 'pg';
import type { Change } from '../../staging/model/change.js';
import { ENTITIES, ENTITY_FIELDS, type Entity } from '../../staging/model/entities.js';
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
    const upserts = records.map((r) => toUpsert(r, chunk.entity));
    const deletes = records.filter((r) => r.deleted && !r.deadLetter).map(toDelete);
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

/**
 * The upsert of a generated record. A dead-lettered one (`entity` given) carries its first money
 * field as the broken mapping wrote it; `raw` keeps the source's values, from which a fixed
 * mapping gives the record's `fields`.
 */
export function toUpsert(r: GeneratedRecord, entity?: Entity): Change {
  return {
    sourceId: r.sourceId,
    version: r.deleted ? r.version - 1n : r.version,
    op: 'upsert',
    fields: r.deadLetter && entity ? botched(entity, r.fields) : r.fields,
    raw: r.fields,
    sourceUpdatedAt: r.updatedAt,
  };
}

/** The fields with the first money amount in a German spreadsheet's format: "1.234,56 €". */
export function botched(entity: Entity, fields: Record<string, unknown>): Record<string, unknown> {
  const money = ENTITY_FIELDS[entity].find((d) => d.type === 'decimal' && d.currencyField);
  if (!money) return { ...fields, currency: 'Euro (€)' };
  const [whole = '0', frac] = String(fields[money.name] ?? '0').split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, '.');
  return { ...fields, [money.name]: `${grouped}${frac ? `,${frac}` : ''} €` };
}

function toDelete(r: GeneratedRecord): Change {
  return { sourceId: r.sourceId, version: r.version, op: 'delete', sourceUpdatedAt: r.updatedAt };
}

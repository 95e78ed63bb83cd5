// Turns a chunk of streamed row changes into staging batches, and writes them.
//
// Mapping (`mapChunk`) talks only to the source: runs of consecutive rows of one relation are
// mapped together, the source evaluating SQL expressions for the whole run in one query; a row
// the author's SQL cannot evaluate becomes a dead letter and the rest goes on. Writing
// (`writeMappedChunk`) talks only to staging, inside the open group transaction. The two halves
// are separate so that the pipeline can map the next chunk while the previous one is written.
import type pg from 'pg';
import { addDeadLetters, type NewDeadLetter } from '../../../staging/dead-letters.js';
import { quoteIdent } from '../../../staging/identifiers.js';
import type { Change } from '../../../staging/model/change.js';
import type { Entity } from '../../../staging/model/entities.js';
import { prepareUnit, stageUnitIn, type UnitBatch } from '../../../staging/stage.js';
import type { PreparedBatch } from '../../../staging/write-changes.js';
import { bigIntToLsn } from './lsn.js';
import type { Mapped, TableMapper, TextRow } from './mapping.js';
import type { Relation } from './relations.js';

/** One row change as held from the stream, with the relation (columns) it was decoded with. */
export interface PendingChange {
  relation: Relation & { mapper: TableMapper };
  kind: 'row' | 'delete';
  values: TextRow;
  version: bigint;
}

export interface MappedChunk {
  byEntity: Map<Entity, Change[]>;
  /** Deletes of out-of-scope rows (row filter): applied only to rows staged before or in this chunk. */
  conditional: Set<Change>;
  deadLetters: NewDeadLetter[];
  /**
   * The batches validated and encoded while the previous chunk was written (staging
   * prepareUnit); absent when conditional deletes must first be checked against staging.
   */
  prepared?: readonly PreparedBatch[];
}

export interface ChunkScope {
  tenant: string;
  system: string;
  slot: string;
}

export async function mapChunk(
  source: pg.ClientBase,
  chunk: readonly PendingChange[],
  scope: ChunkScope,
): Promise<MappedChunk> {
  const out: MappedChunk = { byEntity: new Map(), conditional: new Set(), deadLetters: [] };
  // Keep stream order across tables: consecutive runs of one relation are mapped together.
  for (let i = 0; i < chunk.length; ) {
    const relation = chunk[i]!.relation;
    let j = i + 1;
    while (j < chunk.length && chunk[j]!.relation === relation) j++;
    const mapper = relation.mapper;
    let list = out.byEntity.get(mapper.entity);
    if (!list) {
      list = [];
      out.byEntity.set(mapper.entity, list);
    }
    for (const m of await mapRun(source, relation, chunk.slice(i, j), out.deadLetters, scope)) {
      if (m.op === 'skip') continue;
      if (m.op === 'delete_if_staged') out.conditional.add(m.change);
      list.push(m.change);
    }
    i = j;
  }
  if (!out.conditional.size) out.prepared = prepareUnit(unitOf(out, scope)).batches;
  return out;
}

function unitOf(mapped: MappedChunk, scope: ChunkScope) {
  return {
    tenant: scope.tenant,
    system: scope.system,
    batches: [...mapped.byEntity]
      .filter(([, changes]) => changes.length)
      .map(([entity, changes]) => ({ entity, changes })),
    location: `slot ${scope.slot}`,
  };
}

async function mapRun(
  source: pg.ClientBase,
  relation: Relation & { mapper: TableMapper },
  run: readonly PendingChange[],
  dead: NewDeadLetter[],
  scope: ChunkScope,
): Promise<Mapped[]> {
  const { mapper, columns } = relation;
  const rows = run.filter((p) => p.kind === 'row');
  let mapped: Mapped[];
  try {
    mapped = await mapper.mapStreamed(source, columns, rows);
  } catch (err) {
    if ((err as { code?: string }).code === undefined) throw err;
    // A row the author's SQL cannot evaluate: find it, dead-letter it, keep the rest.
    mapped = [];
    for (const r of rows) {
      try {
        mapped.push(...(await mapper.mapStreamed(source, columns, [r])));
      } catch (e) {
        mapped.push({ op: 'skip', change: { sourceId: '', version: r.version, op: 'delete' } });
        dead.push({
          tenant: scope.tenant,
          system: scope.system,
          entity: mapper.entity,
          sourceId: safeId(mapper, r.values),
          record: { raw: r.values },
          errorKind: 'mapping',
          errorMessage: `${mapper.label}: ${(e as Error).message}`,
          location: `slot ${scope.slot} version ${bigIntToLsn(r.version)}`,
        });
      }
    }
  }
  if (rows.length === run.length) return mapped;
  const out: Mapped[] = [];
  let k = 0;
  for (const p of run) {
    if (p.kind === 'row') out.push(mapped[k++]!);
    else
      out.push({
        op: mapper.hasFilter ? 'delete_if_staged' : 'delete',
        change: { sourceId: mapper.sourceIdOf(p.values), version: p.version, op: 'delete' },
      });
  }
  return out;
}

/** Writes a mapped chunk into the open staging transaction; returns the rows staged (inserted or updated). */
export async function writeMappedChunk(
  client: pg.ClientBase,
  mapped: MappedChunk,
  scope: ChunkScope,
): Promise<number> {
  if (mapped.deadLetters.length) await addDeadLetters(client, mapped.deadLetters);
  if (mapped.conditional.size) await dropUnstagedDeletes(client, mapped, scope);
  const unit = unitOf(mapped, scope);
  const batches: readonly UnitBatch[] = mapped.prepared ?? unit.batches;
  if (!batches.length) return 0;
  const results = await stageUnitIn(client, { ...unit, batches });
  let rows = 0;
  for (const r of Object.values(results)) rows += r.inserted + r.updated;
  return rows;
}

/** An out-of-scope row (row filter) is deleted only if staged or upserted earlier in this chunk. */
async function dropUnstagedDeletes(client: pg.ClientBase, mapped: MappedChunk, scope: ChunkScope) {
  const cond = mapped.conditional;
  for (const [entity, list] of mapped.byEntity) {
    const ids = [...new Set(list.filter((c) => cond.has(c)).map((c) => c.sourceId))];
    if (!ids.length) continue;
    const res = await client.query<{ source_id: string }>(
      `SELECT source_id FROM staging.${quoteIdent(entity)} WHERE tenant_id = $1 AND system = $2 AND source_id = ANY ($3)`,
      [scope.tenant, scope.system, ids],
    );
    const present = new Set(res.rows.map((r) => r.source_id));
    const upserted = new Set<string>();
    mapped.byEntity.set(
      entity,
      list.filter((c) => {
        if (!cond.has(c)) {
          if (c.op === 'upsert') upserted.add(c.sourceId);
          return true;
        }
        return present.has(c.sourceId) || upserted.has(c.sourceId);
      }),
    );
  }
}

function safeId(mapper: TableMapper, values: TextRow): string | null {
  try {
    return mapper.sourceIdOf(values);
  } catch {
    return null;
  }
}

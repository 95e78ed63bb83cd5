// Turns a chunk of streamed row changes into staging batches, and writes them.
//
// Mapping (`mapChunk`) talks only to the source: the rows of one relation in a chunk are mapped
// together, the source evaluating SQL expressions for them in one query; a row the author's SQL
// cannot evaluate (a data error: 22xxx, 23xxx, P0001) or whose key is NULL becomes a dead letter
// and the rest goes on; any other SQL error (42703, 42501 …) stops the source unacknowledged
// (errors.ts mappingStoppedError). A transient source error (statement timeout, lock not available,
// serialization failure, shutdown, lost connection) is thrown instead: the reader reconnects and
// the changes are streamed again, since nothing past staging is acknowledged. Writing
// (`writeMappedChunk`) talks only to staging, inside the open group transaction. The two halves
// are separate so that the pipeline can map the next chunk while the previous one is written.
import type pg from 'pg';
import { addDeadLetters, type NewDeadLetter } from '../../../staging/control/dead-letters.js';
import { quoteIdent } from '../../../staging/identifiers.js';
import type { Change } from '../../../staging/model/change.js';
import type { Entity } from '../../../staging/model/entities.js';
import type { PreparedBatch } from '../../../staging/prepare-changes.js';
import { prepareUnit, stageUnitIn, type UnitBatch } from '../../../staging/stage.js';
import {
  isRowDataError,
  isTransientSourceError,
  mappingStoppedError,
  transientSourceError,
} from './errors.js';
import { bigIntToLsn } from './lsn.js';
import { type Mapped, NullKeyError, type TableMapper, type TextRow } from './mapping.js';
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
  // The rows of one relation (one mapping of one table, as of one Relation message) are mapped
  // together. Order matters only within an entity, and an entity's relations follow one another
  // in the stream (a new Relation message replaces the old one), so grouping by relation in
  // order of first appearance keeps each entity's stream order. (A table mapped to several
  // entities interleaves its relations: grouping keeps each one's rows in one query.)
  const runs = new Map<PendingChange['relation'], PendingChange[]>();
  for (const p of chunk) {
    const run = runs.get(p.relation);
    if (run) run.push(p);
    else runs.set(p.relation, [p]);
  }
  for (const [relation, run] of runs) {
    const mapper = relation.mapper;
    let list = out.byEntity.get(mapper.entity);
    if (!list) {
      list = [];
      out.byEntity.set(mapper.entity, list);
    }
    for (const m of await mapRun(source, relation, run, out.deadLetters, scope)) {
      if (m.op === 'skip') continue;
      if (m.op === 'delete_if_staged') out.conditional.add(m.change);
      list.push(m.change);
    }
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
    // Chunks of a source transaction are staged in order, all in one staging transaction: on a
    // version tie (the transaction's commit LSN) a later chunk wins over an earlier one.
    ordered: true,
  };
}

const SKIP = (version: bigint): Mapped => ({ op: 'skip', change: { sourceId: '', version, op: 'delete' } });

async function mapRun(
  source: pg.ClientBase,
  relation: Relation & { mapper: TableMapper },
  run: readonly PendingChange[],
  dead: NewDeadLetter[],
  scope: ChunkScope,
): Promise<Mapped[]> {
  const { mapper, columns } = relation;
  const deadLetter = (p: PendingChange, message: string) =>
    dead.push({
      tenant: scope.tenant,
      system: scope.system,
      entity: mapper.entity,
      sourceId: mapper.sourceIdOrNull(p.values),
      // The row's version too, so a replay can stage it once the mapping is fixed (postgres/remap.ts).
      record: { table: mapper.label, raw: p.values, version: p.version.toString() },
      errorKind: 'mapping',
      errorMessage: `tenant ${scope.tenant}, system ${scope.system}, table ${mapper.label} (${mapper.entity}): ${message}`,
      location: `slot ${scope.slot} version ${bigIntToLsn(p.version)}`,
    });
  // A row without a key (a NULL key column, possible under REPLICA IDENTITY FULL) has no identity
  // to stage under: it becomes a dead letter and the rest goes on. A delete of such a row has
  // nothing staged to remove (its insert was dead-lettered).
  const keyless = new Set<PendingChange>();
  for (const p of run)
    if (mapper.sourceIdOrNull(p.values) === null) {
      keyless.add(p);
      if (p.kind === 'row') deadLetter(p, `${new NullKeyError(mapper).message}; the row was not staged`);
    }
  const rows = run.filter((p) => p.kind === 'row' && !keyless.has(p));
  let mapped: Mapped[];
  try {
    mapped = await mapper.mapStreamed(source, columns, rows);
  } catch (err) {
    if ((err as { code?: string }).code === undefined) throw err;
    // A source that is busy, restarting or unreachable: retry the whole chunk later rather than
    // dead-letter rows (and acknowledge their changes) that are fine.
    if (isTransientSourceError(err)) throw mappingRetry(err, scope, mapper);
    if (!isRowDataError(err)) throw mappingStopped(err, scope, mapper);
    // A row the author's SQL cannot evaluate: find it, dead-letter it, keep the rest.
    mapped = [];
    for (const r of rows) {
      try {
        mapped.push(...(await mapper.mapStreamed(source, columns, [r])));
      } catch (e) {
        if ((e as { code?: string }).code === undefined) throw e;
        if (isTransientSourceError(e)) throw mappingRetry(e, scope, mapper);
        if (!isRowDataError(e)) throw mappingStopped(e, scope, mapper);
        mapped.push(SKIP(r.version));
        deadLetter(r, (e as Error).message);
      }
    }
  }
  if (rows.length === run.length) return mapped;
  const out: Mapped[] = [];
  let k = 0;
  for (const p of run) {
    if (keyless.has(p)) out.push(SKIP(p.version));
    else if (p.kind === 'row') out.push(mapped[k++]!);
    else
      out.push({
        op: mapper.hasFilter ? 'delete_if_staged' : 'delete',
        change: { sourceId: mapper.sourceIdOf(p.values), version: p.version, op: 'delete' },
      });
  }
  return out;
}

function mappingStopped(err: unknown, scope: ChunkScope, mapper: TableMapper) {
  const { tenant, system, slot } = scope;
  return mappingStoppedError(err, { tenant, system, slot, table: mapper.label, entity: mapper.entity });
}

function mappingRetry(err: unknown, scope: ChunkScope, mapper: TableMapper) {
  return transientSourceError(`mapping streamed rows of ${mapper.label}`, err, {
    tenant: scope.tenant,
    system: scope.system,
    slot: scope.slot,
    table: mapper.label,
  });
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

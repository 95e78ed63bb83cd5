// A unit of canonical changes being built by a stream (changes per entity, mapping failures as
// dead letters), and its commit: dead letters, changes and checkpoints in one staging transaction.
import type pg from 'pg';
import { addDeadLetters, type NewDeadLetter } from '../../staging/control/dead-letters.js';
import type { Change, Checkpoint } from '../../staging/model/change.js';
import type { Entity } from '../../staging/model/entities.js';
import type { PreparedBatch } from '../../staging/prepare-changes.js';
import { prepareUnit, stageUnitIn } from '../../staging/stage.js';
import { withTenantScope } from '../../staging/tenant-scope.js';

export interface PendingUnit {
  batches: Map<Entity, Change[]>;
  /** The batches validated and encoded ahead of the commit (preparePendingUnit), if done. */
  prepared?: readonly PreparedBatch[];
  deadLetters: NewDeadLetter[];
  /** Records held: changes and dead letters added through addChange / addDeadLetter. */
  rows: number;
}

export interface UnitCounts {
  inserted: number;
  updated: number;
  deleted: number;
  ignored: number;
  deadLettered: number;
}

export function newPendingUnit(): PendingUnit {
  return { batches: new Map(), deadLetters: [], rows: 0 };
}

export function addChange(unit: PendingUnit, entity: Entity, change: Change): void {
  const list = unit.batches.get(entity);
  if (list) list.push(change);
  else unit.batches.set(entity, [change]);
  unit.rows++;
}

/**
 * Validates and encodes the unit's changes now (staging prepareUnit), so that its commit only
 * talks to Postgres: a connector prepares the next unit while the previous one commits.
 */
export function preparePendingUnit(
  unit: PendingUnit,
  scope: { tenant: string; system: string; location: string },
): void {
  const batches = [...unit.batches].map(([entity, changes]) => ({ entity, changes }));
  unit.prepared = [...(unit.prepared ?? []), ...prepareUnit({ ...scope, batches }).batches];
  unit.batches.clear();
}

/**
 * Commits a unit: mapping failures as dead letters, the changes (invalid ones dead-lettered by
 * the write path) and the checkpoints, in one transaction. Empties the unit; returns its counts.
 */
export async function commitPendingUnit(
  pool: pg.Pool,
  scope: { tenant: string; system: string; location: string },
  unit: PendingUnit,
  checkpoints: readonly Checkpoint[],
): Promise<UnitCounts> {
  preparePendingUnit(unit, scope);
  const batches = unit.prepared ?? [];
  const results = await withTenantScope(pool, scope.tenant, async (client) => {
    await addDeadLetters(client, unit.deadLetters);
    return stageUnitIn(client, { ...scope, batches, checkpoints });
  });
  const counts: UnitCounts = {
    inserted: 0,
    updated: 0,
    deleted: 0,
    ignored: 0,
    deadLettered: unit.deadLetters.length,
  };
  for (const b of batches) counts.deleted += b.deletes;
  for (const r of Object.values(results)) {
    counts.inserted += r.inserted;
    counts.updated += r.updated;
    counts.ignored += r.ignored;
    counts.deadLettered += r.deadLettered;
  }
  unit.batches.clear();
  delete unit.prepared;
  unit.deadLetters = [];
  unit.rows = 0;
  return counts;
}

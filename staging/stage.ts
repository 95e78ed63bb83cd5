// A staging unit: everything one source step stages at once — batches of one or more entities
// and the checkpoints they bring their streams to — committed in one transaction. If anything
// fails, neither the rows nor the checkpoints are written, and the source resumes from the old
// checkpoint.
import type pg from 'pg';
import { saveCheckpoint } from './checkpoints.js';
import type { Change, Checkpoint } from './model/change.js';
import type { Entity } from './model/entities.js';
import { type PreparedBatch, prepareChanges } from './prepare-changes.js';
import { enterTenantScope, saveScopedCheckpoint, scopeEnforced, withTenantScope } from './tenant-scope.js';
import { type WriteResult, writePrepared } from './write-changes.js';

/** Changes of one entity, or the same already prepared (prepareUnit). */
export type UnitBatch = { entity: Entity; changes: readonly Change[] } | PreparedBatch;

export interface StagingUnit {
  tenant: string;
  system: string;
  batches: readonly UnitBatch[];
  checkpoints?: readonly Checkpoint[];
  location?: string;
  /** The unit's batches continue earlier writes of the same version in order (WriteInput.ordered). */
  ordered?: boolean;
}

export type UnitResult = Record<string, WriteResult>;

/** A unit whose batches are all prepared; stage it like any unit. */
export interface PreparedUnit extends Omit<StagingUnit, 'batches'> {
  batches: readonly PreparedBatch[];
}

const isPrepared = (b: UnitBatch): b is PreparedBatch => 'prepared' in b;

/**
 * The unit with its batches validated and encoded (write-changes.ts prepareChanges): a connector
 * that prepares unit N + 1 while unit N commits keeps that CPU work out of the serialised chain
 * of staging transactions. Staging a prepared unit gives the same result as staging it raw.
 */
export function prepareUnit(unit: StagingUnit): PreparedUnit {
  return {
    ...unit,
    batches: unit.batches.map((b) =>
      isPrepared(b)
        ? b
        : prepareChanges({
            tenant: unit.tenant,
            system: unit.system,
            entity: b.entity,
            changes: b.changes,
            ...(unit.location ? { location: unit.location } : {}),
            ...(unit.ordered ? { ordered: true } : {}),
          }),
    ),
  };
}

export async function stageUnit(pool: pg.Pool, unit: StagingUnit): Promise<UnitResult> {
  return withTenantScope(pool, unit.tenant, (client) => stageUnitIn(client, unit));
}

/**
 * The same, inside a transaction the caller already holds. The transaction enters the unit's
 * tenant scope (tenant-scope.ts) and stays in it until it ends.
 */
export async function stageUnitIn(client: pg.ClientBase, unit: StagingUnit): Promise<UnitResult> {
  await enterTenantScope(client, unit.tenant);
  const scoped = await scopeEnforced(client);
  const results: UnitResult = {};
  let rows = 0;
  // Entities in a fixed order so two writers never take the tenant × entity locks crosswise.
  const batches = [...unit.batches].sort((a, b) => a.entity.localeCompare(b.entity));
  for (const batch of prepareUnit({ ...unit, batches }).batches) {
    if (batch.tenant !== unit.tenant || batch.system !== unit.system)
      throw new Error(
        `a batch prepared for ${batch.tenant}/${batch.system} staged as ${unit.tenant}/${unit.system}`,
      );
    if (batch.ordered !== (unit.ordered === true))
      throw new Error(
        `a batch prepared with ordered=${batch.ordered} staged in a unit with ordered=${unit.ordered === true}`,
      );
    const r = await writePrepared(client, batch);
    const prev = results[batch.entity];
    results[batch.entity] = prev ? addResults(prev, r) : r;
    rows += r.inserted + r.updated;
  }
  for (const cp of unit.checkpoints ?? []) {
    // A scope cannot write control.checkpoints itself: the scoped function writes its tenant's.
    if (scoped)
      await saveScopedCheckpoint(client, {
        system: unit.system,
        stream: cp.stream,
        position: cp.position,
        rows,
      });
    else
      await saveCheckpoint(client, {
        tenant: unit.tenant,
        system: unit.system,
        stream: cp.stream,
        position: cp.position,
        rows,
      });
    rows = 0;
  }
  return results;
}

function addResults(a: WriteResult, b: WriteResult): WriteResult {
  return {
    received: a.received + b.received,
    inserted: a.inserted + b.inserted,
    updated: a.updated + b.updated,
    ignored: a.ignored + b.ignored,
    deadLettered: a.deadLettered + b.deadLettered,
  };
}

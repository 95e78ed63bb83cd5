// What a table-level event of the stream does to staging: a TRUNCATE tombstones every staged row
// of the table (see tombstoneTruncated for the version it uses); a schema change that breaks a table's mapping stops that table (a dead letter in
// the open transaction, and a `failed` state on its own stream, kept until a re-snapshot of the
// source or a whole-table backfill of that table, which resumes it: resumeStoppedTable).
import type pg from 'pg';
import { listCheckpoints, setStreamState } from '../../../staging/checkpoints.js';
import { addDeadLetters, listDeadLetters, markReplayed } from '../../../staging/control/dead-letters.js';
import type { Staging } from '../../../staging/database.js';
import { quoteIdent } from '../../../staging/identifiers.js';
import { stagingLockSql } from '../../../staging/write-changes.js';
import type { ChunkScope } from './chunk-mapping.js';
import { type PostgresSystemConfig, replicationNames } from './config.js';
import { resnapshotCommand } from './errors.js';
import type { TableMapper } from './mapping.js';

/** The stream (checkpoint row) that records a stopped table. */
export function stoppedStream(slot: string, label: string): string {
  return `${slot}:table:${label}`;
}

/**
 * TRUNCATE in the source transaction of version V: tombstones every live staged row of the
 * table's entity for this tenant and system that was staged before it — also earlier in this
 * same transaction (version V) — and returns how many.
 *
 * The tombstones take version V − 1, not V: the staging write path lets a delete win a version
 * tie, so tombstones at V would also win over the rows the same transaction inserts after the
 * TRUNCATE (`BEGIN; TRUNCATE t; INSERT …; COMMIT`), which come at V. At V − 1 those later changes
 * are newer and apply, while every change of an earlier transaction (version < V − 1: commit
 * positions of different transactions are many bytes apart) stays older than the tombstone.
 *
 * Rows this transaction deleted before the TRUNCATE (tombstones at V) move to V − 1 as well, so
 * that a re-insert after the TRUNCATE wins over them too.
 *
 * A row staged at V and tombstoned at V − 1 moves back only inside the open staging transaction:
 * all of one source transaction is staged in one staging transaction, so no one ever sees V and
 * then V − 1. Replaying the whole transaction after a crash gives the same result: rows of later
 * (committed) transactions have versions > V and are left alone; this transaction's own rows are
 * tombstoned again and its later changes re-applied at V.
 *
 * The write path (staging/write-changes.ts) cannot lower a version, so this is one direct UPDATE,
 * under the same tenant × entity advisory lock the write path takes, with a fresh staged_seq per
 * row as every staged write has.
 */
export async function tombstoneTruncated(
  client: pg.ClientBase,
  scope: ChunkScope,
  mapper: TableMapper,
  version: bigint,
): Promise<number> {
  await client.query(stagingLockSql(scope.tenant, mapper.entity));
  const res = await client.query(
    `UPDATE staging.${quoteIdent(mapper.entity)}
        SET deleted_at = coalesce(deleted_at, now()), version = $4,
            staged_seq = nextval('staging.staged_seq'), staged_at = now()
      WHERE tenant_id = $1 AND system = $2 AND (version = $3 OR (deleted_at IS NULL AND version < $3))`,
    [scope.tenant, scope.system, version.toString(), (version - 1n).toString()],
  );
  return res.rowCount ?? 0;
}

export function stoppedTableMessage(scope: ChunkScope, mapper: TableMapper, reason: string): string {
  return (
    `tenant ${scope.tenant}, system ${scope.system}, table ${mapper.label} (${mapper.entity}) stopped: ${reason}. ` +
    `Fix the mapping, then re-read the table: trueup backfill --tenant ${scope.tenant} --system ${scope.system} --entity ${mapper.entity} --table ${mapper.label} ` +
    `(or re-snapshot the whole source: ${resnapshotCommand(scope.tenant, scope.system)})`
  );
}

/** The slot of a table a schema change stopped (its stream is `failed`), or null when it streams. */
export async function stoppedTable(
  staging: Staging,
  tenant: string,
  system: string,
  config: Pick<PostgresSystemConfig, 'slot' | 'publication'>,
  mapper: TableMapper,
): Promise<{ slot: string } | null> {
  const { slot } = replicationNames(tenant, system, config);
  const stream = stoppedStream(slot, mapper.label);
  const row = (await listCheckpoints(staging.db, tenant)).find(
    (c) => c.system === system && c.stream === stream,
  );
  return row?.state === 'failed' ? { slot } : null;
}

/**
 * After a whole-table re-read of a stopped table (backfill, holding the slot's claim): the table's
 * stream state no longer says `failed`, so the next sync streams it again from the slot's
 * checkpoint (the snapshot of the re-read began at or after it: what the stream reads again up to
 * there is older than the re-read rows and ignored by the version guard, and nothing after it is
 * lost), and its `schema_change` dead letters count as replayed.
 */
export async function resumeStoppedTable(
  staging: Staging,
  tenant: string,
  system: string,
  slot: string,
  mapper: TableMapper,
  lsn: string,
): Promise<void> {
  await setStreamState(
    staging.db,
    { tenant, system, stream: stoppedStream(slot, mapper.label) },
    'backfilled',
    `re-read by backfill at ${lsn}`,
  );
  const letters = await listDeadLetters(staging.db, {
    tenant,
    system,
    entity: mapper.entity,
    status: 'open',
  });
  for (const d of letters)
    if (d.errorKind === 'schema_change' && (d.record as { table?: unknown } | null)?.table === mapper.label)
      await markReplayed(staging.db, tenant, d.id);
}

/** Records a stopped table: a `schema_change` dead letter in the open transaction, and its stream's state. */
export async function recordStoppedTable(
  client: pg.ClientBase,
  staging: Staging,
  scope: ChunkScope,
  mapper: TableMapper,
  reason: string,
  afterLsn: string,
): Promise<void> {
  const message = stoppedTableMessage(scope, mapper, reason);
  await addDeadLetters(client, [
    {
      tenant: scope.tenant,
      system: scope.system,
      entity: mapper.entity,
      sourceId: null,
      record: { table: mapper.label, reason },
      errorKind: 'schema_change',
      errorMessage: message,
      location: `slot ${scope.slot} after ${afterLsn}`,
    },
  ]);
  await setStreamState(
    staging.db,
    { tenant: scope.tenant, system: scope.system, stream: stoppedStream(scope.slot, mapper.label) },
    'failed',
    message,
  );
}

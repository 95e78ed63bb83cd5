// What a table-level event of the stream does to staging: a TRUNCATE tombstones every staged row
// of the table; a schema change that breaks a table's mapping stops that table (a dead letter in
// the open transaction, and a `failed` state on its own stream, kept until a re-snapshot).
import type pg from 'pg';
import { setStreamState } from '../../../staging/checkpoints.js';
import type { Staging } from '../../../staging/database.js';
import { addDeadLetters } from '../../../staging/dead-letters.js';
import { quoteIdent } from '../../../staging/identifiers.js';
import { stageUnitIn } from '../../../staging/stage.js';
import type { ChunkScope } from './chunk-mapping.js';
import { resnapshotCommand } from './errors.js';
import type { TableMapper } from './mapping.js';

/** The stream (checkpoint row) that records a stopped table. */
export function stoppedStream(slot: string, label: string): string {
  return `${slot}:table:${label}`;
}

/** Tombstones the table's staged rows older than the TRUNCATE's transaction; returns how many. */
export async function tombstoneTruncated(
  client: pg.ClientBase,
  scope: ChunkScope,
  mapper: TableMapper,
  version: bigint,
): Promise<number> {
  let total = 0;
  for (let after = ''; ; ) {
    const res = await client.query<{ source_id: string }>(
      `SELECT source_id FROM staging.${quoteIdent(mapper.entity)}
        WHERE tenant_id = $1 AND system = $2 AND deleted_at IS NULL AND version < $3 AND source_id > $4
        ORDER BY source_id LIMIT 10000`,
      [scope.tenant, scope.system, version.toString(), after],
    );
    if (!res.rows.length) return total;
    after = res.rows[res.rows.length - 1]!.source_id;
    total += res.rows.length;
    await stageUnitIn(client, {
      tenant: scope.tenant,
      system: scope.system,
      batches: [
        {
          entity: mapper.entity,
          changes: res.rows.map((x) => ({ sourceId: x.source_id, version, op: 'delete' as const })),
        },
      ],
      location: `TRUNCATE ${mapper.label} (slot ${scope.slot})`,
    });
  }
}

export function stoppedTableMessage(scope: ChunkScope, mapper: TableMapper, reason: string): string {
  return (
    `tenant ${scope.tenant}, system ${scope.system}, table ${mapper.label} (${mapper.entity}) stopped: ${reason}. ` +
    `Fix the mapping, then re-snapshot: ${resnapshotCommand(scope.tenant, scope.system)}`
  );
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

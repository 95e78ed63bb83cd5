// Initial snapshot consistent with the slot: readers import the slot's exported snapshot and read
// the mapped tables (large ones in parallel block ranges); rows are staged with version = the
// consistent point, so the seam with the stream neither loses nor doubles a change. A
// `{phase: "snapshotting"}` checkpoint makes a restart start over; a completed snapshot sweeps
// staged rows it did not see. See docs/capture.md, "Snapshot".
import type pg from 'pg';
import { saveCheckpoint } from '../../../staging/checkpoints.js';
import { addDeadLetters, type NewDeadLetter } from '../../../staging/control/dead-letters.js';
import type { Staging } from '../../../staging/database.js';
import { inTransaction } from '../../../staging/database.js';
import { quoteIdent } from '../../../staging/identifiers.js';
import type { Change } from '../../../staging/model/change.js';
import { stageUnit, stageUnitIn } from '../../../staging/stage.js';
import { withTenantScope } from '../../../staging/tenant-scope.js';
import type { Logger } from '../../log/logger.js';
import { lsnToBigInt } from './lsn.js';
import { NullKeyError, type TableMapper } from './mapping.js';
import { connectReplication, connectSource, createSlotWithSnapshot } from './source-admin.js';

export interface SnapshotOptions {
  tenant: string;
  system: string;
  slot: string;
  sourceUrl: string;
  staging: Staging;
  mappers: readonly TableMapper[];
  readers: number;
  batchRows: number;
  logger: Logger;
  /** Aborted when the slot claim is lost: readers stop before their next batch. */
  signal?: AbortSignal;
}

export interface SnapshotResult {
  lsn: string;
  rows: number;
}

interface Piece {
  mapper: TableMapper;
  blocks?: { from: number; to: number };
}

/** Pieces of at least this many blocks (8 KiB) are worth a reader of their own. */
const MIN_BLOCKS_PER_PIECE = 256;

export async function markSnapshotting(
  staging: Staging,
  o: { tenant: string; system: string; slot: string },
) {
  await inTransaction(staging.pool, (c) =>
    saveCheckpoint(c, {
      tenant: o.tenant,
      system: o.system,
      stream: o.slot,
      position: { phase: 'snapshotting' },
    }),
  );
}

export async function runSnapshot(o: SnapshotOptions): Promise<SnapshotResult> {
  const log = o.logger.child({ slot: o.slot, phase: 'snapshot' });
  await markSnapshotting(o.staging, o);
  const repl = await connectReplication(o.sourceUrl);
  try {
    const { consistentPoint, snapshotName } = await createSlotWithSnapshot(repl, o.slot);
    log.info({ lsn: consistentPoint, snapshot: snapshotName }, 'slot created with exported snapshot');
    const version = lsnToBigInt(consistentPoint);
    const pieces = await planPieces(o, snapshotName);
    let next = 0;
    let rows = 0;
    const reader = async () => {
      const client = await connectSource(o.sourceUrl, 'trueup-cdc-snapshot-reader');
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
        await client.query(`SET TRANSACTION SNAPSHOT '${snapshotName.replaceAll("'", "''")}'`);
        for (let p = pieces[next++]; p; p = pieces[next++]) rows += await readPiece(client, p, version, o);
        await client.query('COMMIT');
      } finally {
        await client.end().catch(() => {});
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.readers, Math.max(1, pieces.length)) }, reader));
    o.signal?.throwIfAborted();
    const swept = await sweep(o, version);
    await inTransaction(o.staging.pool, (c) =>
      stageUnitIn(c, {
        tenant: o.tenant,
        system: o.system,
        batches: [],
        checkpoints: [{ stream: o.slot, position: { lsn: consistentPoint } }],
      }),
    );
    log.info({ rows, swept, lsn: consistentPoint }, 'snapshot staged');
    return { lsn: consistentPoint, rows };
  } finally {
    await repl.end().catch(() => {});
  }
}

async function planPieces(o: SnapshotOptions, snapshotName: string): Promise<Piece[]> {
  const client = await connectSource(o.sourceUrl);
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    await client.query(`SET TRANSACTION SNAPSHOT '${snapshotName.replaceAll("'", "''")}'`);
    const pieces: Piece[] = [];
    for (const mapper of o.mappers) {
      const res = await client.query(
        `SELECT (pg_relation_size($1::regclass) / current_setting('block_size')::int)::text AS blocks`,
        [mapper.qualified],
      );
      const blocks = Number(res.rows[0]?.blocks ?? 0);
      const n = Math.min(o.readers * 2, Math.floor(blocks / MIN_BLOCKS_PER_PIECE));
      if (n <= 1) {
        pieces.push({ mapper });
        continue;
      }
      const step = Math.ceil(blocks / n);
      for (let from = 0; from < blocks; from += step)
        // The last range is open-ended: the table may have grown since the size was read.
        pieces.push({ mapper, blocks: { from, to: from + step >= blocks ? 2 ** 31 - 1 : from + step } });
    }
    await client.query('COMMIT');
    return pieces;
  } finally {
    await client.end().catch(() => {});
  }
}

async function readPiece(
  client: pg.Client,
  piece: Piece,
  version: bigint,
  o: SnapshotOptions,
): Promise<number> {
  const cursor = quoteIdent(`trueup_snap_${piece.mapper.entity}_${piece.blocks?.from ?? 0}`);
  // Extended protocol: the configured sql/filter/softDelete expressions are one statement, so a
  // config value cannot stack a COMMIT and more statements after it (docs/security.md).
  await client.query({
    text: `DECLARE ${cursor} NO SCROLL CURSOR FOR ${piece.mapper.snapshotSql(piece.blocks)}`,
    queryMode: 'extended', // pg ≥ 8.12; not in @types/pg yet
  } as pg.QueryConfig);
  let total = 0;
  for (;;) {
    o.signal?.throwIfAborted();
    const res = await client.query(`FETCH ${o.batchRows} FROM ${cursor}`);
    if (!res.rows.length) break;
    const changes: Change[] = [];
    const dead: NewDeadLetter[] = [];
    for (const r of res.rows) {
      // A row with a NULL key column (a nullable key under REPLICA IDENTITY FULL) cannot be staged.
      if (piece.mapper.sourceIdOrNull(r) === null) dead.push(keylessRow(o, piece.mapper, r));
      else changes.push(piece.mapper.fromSnapshotRow(r, version));
    }
    const unit = {
      tenant: o.tenant,
      system: o.system,
      batches: [{ entity: piece.mapper.entity, changes }],
      location: `snapshot of ${piece.mapper.label} (slot ${o.slot})`,
    };
    if (dead.length)
      await inTransaction(o.staging.pool, async (c) => {
        await addDeadLetters(c, dead);
        await stageUnitIn(c, unit);
      });
    else await stageUnit(o.staging.pool, unit);
    total += changes.length;
  }
  await client.query(`CLOSE ${cursor}`);
  return total;
}

function keylessRow(o: SnapshotOptions, mapper: TableMapper, row: Record<string, unknown>): NewDeadLetter {
  return {
    tenant: o.tenant,
    system: o.system,
    entity: mapper.entity,
    sourceId: null,
    record: { table: mapper.label, raw: row },
    errorKind: 'mapping',
    errorMessage: `tenant ${o.tenant}, system ${o.system}, table ${mapper.label} (${mapper.entity}): ${new NullKeyError(mapper).message}; the row was not staged`,
    location: `snapshot of ${mapper.label} (slot ${o.slot})`,
  };
}

/** Tombstones staged rows of this source that are older than the snapshot: the snapshot did not see them. */
async function sweep(o: SnapshotOptions, version: bigint): Promise<number> {
  let swept = 0;
  for (const mapper of o.mappers) {
    for (;;) {
      const res = await withTenantScope(o.staging.pool, o.tenant, (c) =>
        c.query<{ source_id: string }>(
          `SELECT source_id FROM staging.${quoteIdent(mapper.entity)}
            WHERE tenant_id = $1 AND system = $2 AND version < $3 AND deleted_at IS NULL LIMIT 10000`,
          [o.tenant, o.system, version.toString()],
        ),
      );
      if (!res.rows.length) break;
      await stageUnit(o.staging.pool, {
        tenant: o.tenant,
        system: o.system,
        batches: [
          {
            entity: mapper.entity,
            changes: res.rows.map((r) => ({ sourceId: r.source_id, version, op: 'delete' as const })),
          },
        ],
        location: `snapshot sweep of ${mapper.label} (slot ${o.slot})`,
      });
      swept += res.rows.length;
    }
  }
  return swept;
}

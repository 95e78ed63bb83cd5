// Per-source CDC figures for `trueup status`: state, checkpoint LSN, slot position, bytes the
// slot is behind the source's current WAL, wal_status, the last measured rows/s, and which
// process reads the slot (the holder of its claim, see slot-claim.ts).
import { listCheckpoints } from '../../../staging/checkpoints.js';
import type { Staging } from '../../../staging/database.js';
import { type PostgresSystemConfig, replicationNames } from './config.js';
import { type ClaimHolder, claimHolder } from './slot-claim.js';
import { connectSource, slotInfo } from './source-admin.js';
import { stoppedStream } from './table-events.js';

/**
 * streaming: a reader holds the slot and the checkpoint is fine; idle: no reader runs (the slot
 * keeps the changes until the next `trueup sync`); the others name what needs attention.
 */
export type CdcState =
  | 'streaming'
  | 'idle'
  | 'snapshotting'
  | 'failed'
  | 'no_checkpoint'
  | 'slot_missing'
  | 'slot_lost'
  | 'source_unreachable';

export interface CdcSourceStatus {
  tenant: string;
  system: string;
  slot: string;
  state: CdcState;
  checkpointLsn: string | null;
  confirmedFlushLsn: string | null;
  /** Bytes of source WAL after the slot's confirmed position (what the source retains for trueup). */
  bytesBehind: string | null;
  walStatus: string | null;
  safeWalSize: string | null;
  /** Rows per second measured by the reader at its last commit. */
  rowsPerSecond: number | null;
  checkpointAt: string | null;
  /** The reader holding the slot's claim, if one runs. */
  reader: ClaimHolder | null;
  stoppedTables: { table: string; reason: string }[];
  error?: string;
}

/** Never throws for the source: an unreachable source is a status, not a failure of `trueup status`. */
export async function cdcSourceStatus(
  staging: Staging,
  tenant: string,
  system: string,
  config: PostgresSystemConfig,
  opts: { connectTimeoutMs?: number } = {},
): Promise<CdcSourceStatus> {
  const { slot } = replicationNames(tenant, system, config);
  const cps = (await listCheckpoints(staging.db, tenant)).filter((c) => c.system === system);
  const main = cps.find((c) => c.stream === slot);
  const position = (main?.position ?? null) as {
    lsn?: string;
    phase?: string;
    rowsPerSecond?: number;
  } | null;
  const reader = (await claimHolder(staging.pool, { tenant, system, slot })) ?? null;
  const prefix = stoppedStream(slot, '');
  const status: CdcSourceStatus = {
    tenant,
    system,
    slot,
    state: !main
      ? 'no_checkpoint'
      : position?.phase === 'snapshotting'
        ? 'snapshotting'
        : main.state === 'ok'
          ? reader
            ? 'streaming'
            : 'idle'
          : 'failed',
    checkpointLsn: position?.lsn ?? null,
    confirmedFlushLsn: null,
    bytesBehind: null,
    walStatus: null,
    safeWalSize: null,
    rowsPerSecond: position?.rowsPerSecond ?? null,
    checkpointAt: main?.updatedAt.toISOString() ?? null,
    reader,
    stoppedTables: cps
      .filter((c) => c.stream.startsWith(prefix) && c.state === 'failed')
      .map((c) => ({ table: c.stream.slice(prefix.length), reason: c.detail ?? '' })),
  };
  let source: Awaited<ReturnType<typeof connectSource>> | undefined;
  try {
    source = await connectSource(config.connection, 'trueup-status', {
      connectTimeoutMs: opts.connectTimeoutMs ?? 5000,
    });
    const info = await slotInfo(source, slot);
    if (!info) {
      if (status.checkpointLsn) status.state = 'slot_missing';
      return status;
    }
    status.confirmedFlushLsn = info.confirmedFlushLsn;
    status.bytesBehind = info.bytesBehind;
    status.walStatus = info.walStatus;
    status.safeWalSize = info.safeWalSize;
    if (info.walStatus === 'lost') status.state = 'slot_lost';
  } catch (err) {
    status.state = 'source_unreachable';
    status.error = (err as Error).message;
  } finally {
    await source?.end().catch(() => {});
  }
  return status;
}

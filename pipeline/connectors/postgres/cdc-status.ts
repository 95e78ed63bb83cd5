// Per-source CDC figures for `trueup status`: state, checkpoint LSN, slot position, bytes the
// slot is behind the source's current WAL, wal_status, and the last measured rows/s.
import { listCheckpoints } from '../../../staging/checkpoints.js';
import type { Staging } from '../../../staging/database.js';
import { type PostgresSystemConfig, replicationNames } from './config.js';
import { connectSource, slotInfo } from './source-admin.js';
import { stoppedStream } from './stream-reader.js';

export interface CdcSourceStatus {
  tenant: string;
  system: string;
  slot: string;
  /** ok | snapshotting | failed | no_checkpoint | slot_missing | slot_lost | source_unreachable */
  state: string;
  checkpointLsn: string | null;
  confirmedFlushLsn: string | null;
  bytesBehind: string | null;
  walStatus: string | null;
  safeWalSize: string | null;
  rowsPerSecond: number | null;
  stoppedTables: { table: string; reason: string }[];
  error?: string;
}

/** Never throws: an unreachable source is a status, not a failure of `trueup status`. */
export async function cdcSourceStatus(
  staging: Staging,
  tenant: string,
  system: string,
  config: PostgresSystemConfig,
): Promise<CdcSourceStatus> {
  const { slot } = replicationNames(tenant, system, config);
  const cps = (await listCheckpoints(staging.db, tenant)).filter((c) => c.system === system);
  const main = cps.find((c) => c.stream === slot);
  const position = (main?.position ?? null) as {
    lsn?: string;
    phase?: string;
    rowsPerSecond?: number;
  } | null;
  const prefix = stoppedStream(slot, '');
  const status: CdcSourceStatus = {
    tenant,
    system,
    slot,
    state: !main ? 'no_checkpoint' : position?.phase === 'snapshotting' ? 'snapshotting' : main.state,
    checkpointLsn: position?.lsn ?? null,
    confirmedFlushLsn: null,
    bytesBehind: null,
    walStatus: null,
    safeWalSize: null,
    rowsPerSecond: position?.rowsPerSecond ?? null,
    stoppedTables: cps
      .filter((c) => c.stream.startsWith(prefix) && c.state === 'failed')
      .map((c) => ({ table: c.stream.slice(prefix.length), reason: c.detail ?? '' })),
  };
  let source: Awaited<ReturnType<typeof connectSource>> | undefined;
  try {
    source = await connectSource(config.connection, 'trueup-status');
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

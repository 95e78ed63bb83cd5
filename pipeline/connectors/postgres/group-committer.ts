// Groups the changes of streamed source transactions into staging transactions, and commits
// and acknowledges them — pipelined (decode, map on the source, write to staging at once), in
// stream order, with bounded memory ((DEPTH + 1) × chunkRows changes: backpressure on the
// replication socket). A commit happens only between source transactions, after maxGroupRows rows
// or maxGroupDelayMs. Invariants G1–G3 (the checkpoint is the end LSN of the last whole source
// transaction and never moves back; acknowledge only after its commit; nothing after a failure):
// docs/capture.md, "Streaming".
import type pg from 'pg';
import { saveCheckpoint } from '../../../staging/checkpoints.js';
import type { Staging } from '../../../staging/database.js';
import { enterTenantScope } from '../../../staging/tenant-scope.js';
import { type ChunkScope, mapChunk, type PendingChange, writeMappedChunk } from './chunk-mapping.js';
import { bigIntToLsn, lsnToBigInt } from './lsn.js';

/** Staging operations (chunks, commits) that may be queued beyond the chunk being held. */
const DEPTH = 2;
/** Window of the rows/s figure saved with the checkpoint. */
const STATS_WINDOW_MS = 5000;

export interface GroupCommitterOptions {
  scope: ChunkScope;
  staging: Staging;
  /** The source connection that evaluates mapping SQL. */
  source: pg.ClientBase;
  /** The stored checkpoint: the position known to be staged. */
  fromLsn: string;
  chunkRows: number;
  maxGroupRows: number;
  maxGroupDelayMs: number;
  /** Acknowledges a committed position to the slot. */
  ack(lsn: string): void;
  /** The first failure of any stage. */
  onError(err: Error): void;
  onCommitted?(p: { lsn: string; rows: number; rowsPerSecond: number }): void;
  /** Observes each chunk handed on to mapping and staging (tests). */
  onChunk?(c: { changes: number; rows: number }): void;
}

/** A row of one source change for one mapping of its table. */
export type HeldRow = Pick<PendingChange, 'relation' | 'kind' | 'values'>;

export class GroupCommitter {
  private held: PendingChange[] = [];
  /** Source changes in `held` (each gave one row or more). */
  private heldChanges = 0;
  private txVersion: bigint | null = null;
  private groupRows = 0;
  private groupStart = 0;
  private groupEnd: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  /** The last checkpoint queued for commit, and whether anything was queued after it. */
  private queuedLsn: string;
  private queuedV: bigint;
  private dirty = false;
  private committed: string;
  private mapTail: Promise<unknown> = Promise.resolve();
  private tail: Promise<void> = Promise.resolve();
  private inflight: Promise<void>[] = [];
  private tx: pg.PoolClient | undefined;
  private txRows = 0;
  private error: Error | undefined;
  private statsAt = Date.now();
  private statsRows = 0;

  constructor(private readonly o: GroupCommitterOptions) {
    this.queuedLsn = o.fromLsn;
    this.queuedV = lsnToBigInt(o.fromLsn);
    this.committed = o.fromLsn;
  }

  /** The last position whose staging transaction committed. */
  get committedLsn(): string {
    return this.committed;
  }

  /** The commit LSN of the source transaction being received, or null between transactions. */
  get currentVersion(): bigint | null {
    return this.txVersion;
  }

  begin(version: bigint): void {
    this.txVersion = version;
  }

  /**
   * Holds one change of the current source transaction: its rows for every mapping of its table,
   * kept in one chunk. A returned promise says "wait before the next".
   */
  addChange(rows: readonly HeldRow[]): Promise<void> | undefined {
    const version = this.txVersion;
    if (version === null || !rows.length) return;
    for (const r of rows) this.held.push({ ...r, version });
    this.heldChanges++;
    this.groupRows += rows.length;
    if (this.heldChanges < this.o.chunkRows) return;
    this.queueHeld();
    return this.room();
  }

  /** End of a source transaction: commit the group now, or when its delay is up. */
  end(endLsn: string): Promise<void> | undefined {
    this.txVersion = null;
    this.groupEnd = endLsn;
    const now = Date.now();
    if (!this.groupStart) this.groupStart = now;
    if (this.groupRows >= this.o.maxGroupRows || now - this.groupStart >= this.o.maxGroupDelayMs)
      return this.commit(endLsn);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      if (this.txVersion === null && this.groupEnd && !this.error) void this.commit(this.groupEnd);
    }, this.o.maxGroupDelayMs);
  }

  /**
   * Commits everything queued with checkpoint `lsn` (a heartbeat between transactions, or the
   * pending group on stop). Nothing queued and `lsn` not past the checkpoint: nothing to do.
   */
  commit(lsn: string): Promise<void> | undefined {
    if (this.txVersion !== null) throw new Error('commit inside a source transaction');
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    let v = lsnToBigInt(lsn);
    if (v <= this.queuedV) {
      // Replayed transactions (the slot resumed before the checkpoint) never move it back.
      if (!this.dirty && !this.held.length) return this.resetGroup();
      lsn = this.queuedLsn;
      v = this.queuedV;
    }
    this.queueHeld();
    lsn = bigIntToLsn(v); // as Postgres prints it (the library pads some positions with zeros)
    this.queuedLsn = lsn;
    this.queuedV = v;
    this.dirty = false;
    const rows = this.groupRows;
    this.resetGroup();
    this.stage(async (client) => {
      const now = Date.now();
      this.statsRows += rows;
      const rowsPerSecond = Math.round((this.statsRows * 1000) / Math.max(1, now - this.statsAt));
      if (now - this.statsAt > STATS_WINDOW_MS) {
        this.statsAt = now;
        this.statsRows = 0;
      }
      await saveCheckpoint(client, {
        tenant: this.o.scope.tenant,
        system: this.o.scope.system,
        stream: this.o.scope.slot,
        position: { lsn, rowsPerSecond },
        rows: this.txRows,
      });
      await client.query('COMMIT');
      this.tx = undefined;
      this.txRows = 0;
      client.release();
      this.committed = lsn;
      this.o.ack(lsn);
      this.o.onCommitted?.({ lsn, rows, rowsPerSecond });
    });
    return this.room();
  }

  /** The group pending a commit, if the reader is between transactions. */
  get pendingGroupEnd(): string | null {
    return this.txVersion === null ? this.groupEnd : null;
  }

  /** Runs `op` on the open staging transaction after everything queued before it. */
  run(op: (client: pg.PoolClient) => Promise<void>): Promise<void> | undefined {
    this.queueHeld();
    this.dirty = true;
    this.stage(op);
    return this.room();
  }

  /** Waits until everything queued is done; rejects with the first failure. */
  async drain(): Promise<void> {
    for (let t = this.tail; ; t = this.tail) {
      await t;
      if (t === this.tail) break;
    }
    if (this.error) throw this.error;
  }

  /** Stops: waits for running operations, rolls back an uncommitted transaction. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.error ??= new Error('stream closed');
    await this.drain().catch(() => {});
    if (this.tx) {
      const tx = this.tx;
      this.tx = undefined;
      let broken: Error | undefined;
      await tx.query('ROLLBACK').catch((e: Error) => {
        broken = e;
      });
      tx.release(broken);
    }
  }

  private resetGroup(): undefined {
    this.groupRows = 0;
    this.groupStart = 0;
    this.groupEnd = null;
    return undefined;
  }

  private queueHeld(): void {
    if (!this.held.length) return;
    const chunk = this.held;
    this.held = [];
    this.o.onChunk?.({ changes: this.heldChanges, rows: chunk.length });
    this.heldChanges = 0;
    this.dirty = true;
    const mapped = this.mapTail.then(() =>
      this.error ? undefined : mapChunk(this.o.source, chunk, this.o.scope),
    );
    mapped.catch(() => {}); // awaited by the staging op below; skipped ops must not leave it unhandled
    this.mapTail = mapped;
    this.stage(async (client) => {
      const m = await mapped;
      if (m) this.txRows += await writeMappedChunk(client, m, this.o.scope);
    });
  }

  private stage(op: (client: pg.PoolClient) => Promise<void>): void {
    const done = this.tail.then(async () => {
      if (this.error) return;
      try {
        await op(await this.transaction());
      } catch (err) {
        if (!this.error) {
          this.error = err as Error;
          this.o.onError(err as Error);
        }
      }
    });
    this.tail = done;
    this.inflight.push(done);
  }

  /** Backpressure: resolves once at most DEPTH operations are queued. */
  private room(): Promise<void> | undefined {
    if (this.inflight.length <= DEPTH) return;
    return (async () => {
      while (this.inflight.length > DEPTH) await this.inflight.shift();
    })();
  }

  private async transaction(): Promise<pg.PoolClient> {
    if (this.tx) return this.tx;
    const client = await this.o.staging.pool.connect();
    try {
      await client.query('BEGIN');
      // The group's writes are its tenant's (staging rows, dead letters, tombstones, checkpoint).
      await enterTenantScope(client, this.o.scope.tenant);
    } catch (err) {
      client.release(err as Error);
      throw err;
    }
    this.tx = client;
    return client;
  }
}

// Reads the pgoutput stream of one slot and hands its changes to the group committer, losing
// nothing. The session: the replication connection, dispatch of pgoutput messages, Relation
// messages and schema changes that stop a table, heartbeats that let an idle slot advance,
// keepalives answered with the last committed position, and the end of a --once run. A handler
// returns a promise only when the group committer is full (backpressure). Deletes, re-inserts and
// TRUNCATE across chunks: docs/capture.md, "Streaming".

import type pg from 'pg';
import { LogicalReplicationService, type Pgoutput } from 'pg-logical-replication';
import type { Staging } from '../../../staging/database.js';
import type { Logger } from '../../log/logger.js';
import type { ChunkScope } from './chunk-mapping.js';
import { CdcError } from './errors.js';
import { GroupCommitter, type HeldRow } from './group-committer.js';
import { bigIntToLsn, lsnToBigInt } from './lsn.js';
import type { TableMapper, TextRow } from './mapping.js';
import { type RelationMessage, RelationTracker } from './relations.js';
import { connectSource, emitHeartbeat, HEARTBEAT_PREFIX } from './source-admin.js';
import { recordStoppedTable, stoppedTableMessage, tombstoneTruncated } from './table-events.js';
import { TextPgoutputPlugin } from './text-pgoutput-plugin.js';
import { APPLY_ORIGIN_PREFIX, ORIGIN_TAG } from './writer.js';

export interface StreamOptions {
  tenant: string;
  system: string;
  slot: string;
  publication: string;
  sourceUrl: string;
  staging: Staging;
  mappers: readonly TableMapper[];
  /** Column type oids of mapped tables at startup, to detect a retyped mapped column. */
  baseline: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** Tables stopped by an earlier schema change (label → reason). */
  stopped: Map<string, string>;
  /** The stored checkpoint: the position known to be staged. */
  fromLsn: string;
  chunkRows: number;
  maxGroupRows: number;
  maxGroupDelayMs: number;
  heartbeatMs: number;
  /** Stage everything up to now, then resolve. */
  once: boolean;
  logger: Logger;
  onProgress?: (p: { lsn: string; rows: number; rowsPerSecond: number }) => void;
  /** Observes each chunk handed on to mapping and staging (tests). */
  onChunk?: (c: { changes: number; rows: number }) => void;
}

/** Messages handled between two turns of the event loop (see onMessage). */
const YIELD_EVERY = 100;

export class StreamReader {
  private service: LogicalReplicationService | undefined;
  private source: pg.Client | undefined;
  private group: GroupCommitter | undefined;
  private readonly relations: RelationTracker;
  private onceTarget: bigint | null = null;
  /** The trueup writer origin of the transaction being received (its changes are our own echo). */
  private txOrigin: string | null = null;
  private failed = false;
  private sinceYield = 0;
  private finished = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private settle!: { resolve: (v: 'caught_up' | 'stopped') => void; reject: (e: Error) => void };
  private readonly log: Logger;
  private readonly scope: ChunkScope;

  constructor(private readonly o: StreamOptions) {
    this.log = o.logger.child({ slot: o.slot, phase: 'stream' });
    this.scope = { tenant: o.tenant, system: o.system, slot: o.slot };
    this.relations = new RelationTracker(o.mappers, o.baseline, this.scope);
  }

  /** Streams until stopped (or caught up with --once); rejects on any error, leaving nothing acknowledged past staging. */
  async run(): Promise<'caught_up' | 'stopped'> {
    const done = new Promise<'caught_up' | 'stopped'>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // A failure may settle `done` while the connection is still being set up (a claim lost then):
    // it is awaited below, so it must not count as an unhandled rejection meanwhile.
    done.catch(() => {});
    try {
      const source = await connectSource(this.o.sourceUrl);
      this.source = source;
      // A source shutting down terminates this session first: stop at once (and so let the walsender
      // go, which otherwise waits for a confirmation this reader must not give), then reconnect.
      const lost = (why: string) =>
        this.fail(
          new CdcError(`the source connection of slot "${this.o.slot}" ${why}`, 'transient', {
            tenant: this.o.tenant,
            system: this.o.system,
            slot: this.o.slot,
          }),
        );
      source.on('end', () => lost('ended'));
      source.on('error', (err: Error) => lost(`failed: ${err.message}`));
      const group = new GroupCommitter({
        scope: this.scope,
        staging: this.o.staging,
        source,
        fromLsn: this.o.fromLsn,
        chunkRows: this.o.chunkRows,
        maxGroupRows: this.o.maxGroupRows,
        maxGroupDelayMs: this.o.maxGroupDelayMs,
        ack: () => this.ack(),
        onError: (err) => this.fail(err),
        ...(this.o.onProgress ? { onCommitted: this.o.onProgress } : {}),
        ...(this.o.onChunk ? { onChunk: this.o.onChunk } : {}),
      });
      this.group = group;
      const service = new LogicalReplicationService(
        { connectionString: this.o.sourceUrl, application_name: `trueup-cdc ${this.o.slot}` },
        { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
      );
      this.service = service;
      service.on('data', (_lsn: string, msg: Pgoutput.Message) => this.onMessage(msg));
      service.on('heartbeat', (_lsn: string, _ts: number, shouldRespond: boolean) => {
        if (shouldRespond) this.ack();
      });
      service.on('error', (err: Error) => this.fail(err));
      const plugin = new TextPgoutputPlugin({
        protoVersion: 1,
        publicationNames: [this.o.publication],
        messages: true,
      });
      if (this.o.once) {
        // Everything committed before this position is staged once a heartbeat at or past it arrives.
        const res = await source.query('SELECT pg_current_wal_lsn()::text AS lsn');
        this.onceTarget = lsnToBigInt(res.rows[0].lsn);
      }
      // The slot resumes from its confirmed_flush_lsn, which never passes our checkpoint.
      service.subscribe(plugin, this.o.slot, '0/00000000').then(
        () =>
          // The server ended the stream (shutdown, terminated walsender): reconnect like any connection loss.
          this.fail(
            new CdcError(`the source ended the replication stream of slot "${this.o.slot}"`, 'transient', {
              tenant: this.o.tenant,
              system: this.o.system,
              slot: this.o.slot,
            }),
          ),
        (err: Error) => this.fail(err),
      );
      const beat = () => {
        if (!this.failed && !this.finished) emitHeartbeat(source, this.o.slot).catch((err) => this.fail(err));
      };
      beat();
      if (!this.o.once) this.heartbeat = setInterval(beat, this.o.heartbeatMs);
    } catch (err) {
      this.fail(err as Error);
    }
    try {
      return await done;
    } finally {
      await this.close();
    }
  }

  /** Graceful stop: commits and acknowledges what is pending, then resolves run(). */
  async stop(): Promise<void> {
    const group = this.group;
    if (this.failed || this.finished) return;
    if (!group) return this.finish('stopped'); // still connecting: nothing to commit
    try {
      const end = group.pendingGroupEnd;
      if (end) await group.commit(end);
      await group.drain();
      this.finish('stopped');
    } catch (err) {
      this.fail(err as Error);
    }
  }

  /** Stops at once with `err` (e.g. the slot's claim was lost); nothing uncommitted is acknowledged. */
  abort(err: Error): void {
    this.fail(err);
  }

  private fail(err: Error): void {
    if (this.failed || this.finished) return;
    this.failed = true;
    this.settle?.reject(err);
  }

  private finish(how: 'caught_up' | 'stopped'): void {
    if (this.failed || this.finished) return;
    this.finished = true;
    this.settle?.resolve(how);
  }

  /** Dispatches one pgoutput message; returns a promise only when the stream must wait. */
  private onMessage(msg: Pgoutput.Message): Promise<void> | undefined {
    if (this.failed || this.finished) return;
    try {
      const r = this.handle(msg);
      if (r) {
        this.sinceYield = 0;
        return r.catch((err: Error) => this.fail(err));
      }
      // The library hands over every message of a received buffer in one synchronous run
      // unless a handler returns a promise; a turn of the event loop every so often lets the
      // staging transaction's replies through instead of leaving them behind thousands of rows.
      if (++this.sinceYield >= YIELD_EVERY) {
        this.sinceYield = 0;
        return new Promise<void>((resolve) => setImmediate(resolve));
      }
      return;
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private handle(msg: Pgoutput.Message): Promise<void> | undefined {
    const group = this.group!;
    switch (msg.tag) {
      case 'begin':
        this.txOrigin = null;
        group.begin(lsnToBigInt(msg.commitLsn!));
        return;
      case 'origin':
        // Sent after Begin for a transaction of a replication origin session: trueup's writer.
        if (msg.originName.startsWith(APPLY_ORIGIN_PREFIX))
          this.txOrigin = `${msg.originName}@${msg.originLsn ?? ''}`;
        return;
      case 'insert':
        return this.change(msg.relation.relationOid, 'row', this.tagged(msg.new));
      case 'update':
        // The old key: msg.key under a key identity (sent only when the key changed), msg.old
        // (the whole old row) under REPLICA IDENTITY FULL.
        return this.update(msg.relation.relationOid, msg.key ?? msg.old, this.tagged(msg.new));
      case 'delete':
        return this.change(msg.relation.relationOid, 'delete', (msg.key ?? msg.old)!);
      case 'commit':
        return group.end(msg.commitEndLsn!);
      case 'relation':
        return this.onRelation(msg);
      case 'truncate':
        return this.onTruncate(msg.relations);
      case 'message':
        if (msg.prefix === HEARTBEAT_PREFIX && !msg.transactional) return this.onHeartbeat(msg.messageLsn!);
        return;
      default:
        return;
    }
  }

  /** A row written by trueup's writer carries its origin in the staged raw record (docs/apply.md, echoes). */
  private tagged(values: TextRow): TextRow {
    return this.txOrigin ? { ...values, [ORIGIN_TAG]: this.txOrigin } : values;
  }

  /** Holds one row change for every (running) mapping of the relation. */
  private change(oid: number, kind: 'row' | 'delete', values: TextRow): Promise<void> | undefined {
    const rows: HeldRow[] = [];
    for (const relation of this.relations.get(oid))
      if (!this.o.stopped.has(relation.mapper.label)) rows.push({ relation, kind, values });
    return this.group!.addChange(rows);
  }

  /**
   * An update; one that changes a mapping's key (source id) also tombstones the old id. An old
   * row with a NULL key was never staged (dead-lettered); a new row with one is dead-lettered
   * by the mapping.
   */
  private update(oid: number, old: TextRow | null | undefined, values: TextRow): Promise<void> | undefined {
    const rows: HeldRow[] = [];
    for (const relation of this.relations.get(oid)) {
      const mapper = relation.mapper;
      if (this.o.stopped.has(mapper.label)) continue;
      const oldId = old ? mapper.sourceIdOrNull(old) : null;
      if (old && oldId !== null && oldId !== mapper.sourceIdOrNull(values))
        rows.push({ relation, kind: 'delete', values: old });
      rows.push({ relation, kind: 'row', values });
    }
    return this.group!.addChange(rows);
  }

  /** A heartbeat comes between transactions: commit up to it; with --once, stop once past the target. */
  private async onHeartbeat(lsn: string): Promise<void> {
    const group = this.group!;
    if (group.currentVersion !== null) return; // cannot happen: non-transactional messages come between transactions
    await group.commit(lsn);
    if (this.onceTarget !== null && lsnToBigInt(lsn) >= this.onceTarget) {
      await group.drain();
      this.finish('caught_up');
    }
  }

  /** Acknowledges the last committed position (the library sends what it is given plus 1). */
  private ack(): void {
    if (this.failed || !this.service || !this.group) return;
    const v = lsnToBigInt(this.group.committedLsn);
    if (v === 0n) return;
    void this.service.acknowledge(bigIntToLsn(v - 1n)).catch(() => {});
  }

  private async onRelation(msg: RelationMessage): Promise<void> {
    const { relations, problems } = await this.relations.apply(this.source!, msg);
    const mapper = relations[0]?.mapper;
    // A table's mappings stop together (the stopped state is kept per table).
    if (!mapper || this.o.stopped.has(mapper.label) || !problems.length) return;
    await this.stopTable(mapper, problems.join('; '));
  }

  /** A schema change broke the mapping of one table: it stops (dead letter + status); the others go on. */
  private stopTable(mapper: TableMapper, reason: string): Promise<void> | undefined {
    this.o.stopped.set(mapper.label, reason);
    const group = this.group!;
    const after = group.committedLsn;
    return group.run(async (client) => {
      await recordStoppedTable(client, this.o.staging, this.scope, mapper, reason, after);
      this.log.error({ table: mapper.label, reason }, stoppedTableMessage(this.scope, mapper, reason));
    });
  }

  /**
   * TRUNCATE: every row staged for the table before it — also earlier in this transaction —
   * becomes a tombstone; changes after it in this transaction win (see table-events.ts).
   */
  private onTruncate(relations: { relationOid: number }[]): Promise<void> | undefined {
    const version = this.group!.currentVersion;
    if (version === null) return;
    const mappers = relations
      .flatMap((r) => this.relations.get(r.relationOid).map((x) => x.mapper))
      .filter((m) => !this.o.stopped.has(m.label));
    if (!mappers.length) return;
    return this.group!.run(async (client) => {
      for (const mapper of mappers) {
        const tombstoned = await tombstoneTruncated(client, this.scope, mapper, version);
        this.log.warn(
          { table: mapper.label, entity: mapper.entity, tombstoned },
          'source table truncated: staged rows tombstoned',
        );
      }
    });
  }

  private async close(): Promise<void> {
    this.finished = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.group?.close();
    await this.service?.destroy().catch(() => {});
    await this.source?.end().catch(() => {});
  }
}

// Reads the pgoutput stream of one slot and stages it, losing nothing.
//
// Messages are handled strictly one at a time in stream order (the library's flow control
// awaits each handler and pauses the socket meanwhile: that is the backpressure). Changes are
// held in a chunk of at most `chunkRows`; a full chunk is mapped and written into the open
// staging transaction, so a huge source transaction never grows the heap. Several source
// transactions share one staging transaction until `maxGroupRows` or `maxGroupDelayMs`; then
// the checkpoint (commit end LSN) is written in it, it commits, and only then the slot is
// acknowledged with that LSN (invariant I1 in source-machine.ts). Keepalives that ask for an
// answer get the last committed LSN; heartbeat messages (pg_logical_emit_message) are flush
// points that let an idle slot advance. A row key deleted and re-inserted inside one source
// transaction whose two changes fall into different chunks stays tombstoned until its next
// change (same version; the write path lets a delete win ties).

import type pg from 'pg';
import { LogicalReplicationService } from 'pg-logical-replication';
import { setStreamState } from '../../../staging/checkpoints.js';
import type { Staging } from '../../../staging/database.js';
import { addDeadLetters } from '../../../staging/dead-letters.js';
import { quoteIdent } from '../../../staging/identifiers.js';
import type { Change } from '../../../staging/model/change.js';
import type { Entity } from '../../../staging/model/entities.js';
import { stageUnitIn } from '../../../staging/stage.js';
import type { Logger } from '../../log/logger.js';
import { bigIntToLsn, lsnToBigInt } from './lsn.js';
import type { Mapped, RelationColumn, TableMapper, TextRow } from './mapping.js';
import { connectSource, emitHeartbeat, formatTypes, HEARTBEAT_PREFIX } from './source-admin.js';
import { TextPgoutputPlugin } from './text-pgoutput-plugin.js';

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
}

interface Pending {
  mapper: TableMapper;
  kind: 'row' | 'delete';
  values: TextRow;
  version: bigint;
}

interface Relation {
  mapper?: TableMapper;
  columns: RelationColumn[];
}

export function stoppedStream(slot: string, label: string): string {
  return `${slot}:table:${label}`;
}

export class StreamReader {
  private service: LogicalReplicationService | undefined;
  private source: pg.Client | undefined;
  private staged: pg.PoolClient | undefined;
  private readonly relations = new Map<number, Relation>();
  private chunk: Pending[] = [];
  private txVersion: bigint | null = null;
  private groupRows = 0;
  private groupStart = 0;
  private groupEnd: string | null = null;
  private lastCommitted: string;
  private onceTarget: bigint | null = null;
  private failed = false;
  private lock: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private settle!: { resolve: (v: 'caught_up' | 'stopped') => void; reject: (e: Error) => void };
  private readonly log: Logger;
  private lastStatsAt = Date.now();
  private rowsSinceStats = 0;

  constructor(private readonly o: StreamOptions) {
    this.lastCommitted = o.fromLsn;
    this.log = o.logger.child({ slot: o.slot, phase: 'stream' });
  }

  /** Streams until stopped (or caught up with --once); rejects on any error, leaving nothing acknowledged past staging. */
  async run(): Promise<'caught_up' | 'stopped'> {
    const done = new Promise<'caught_up' | 'stopped'>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.source = await connectSource(this.o.sourceUrl);
    const service = new LogicalReplicationService(
      { connectionString: this.o.sourceUrl, application_name: `trueup-cdc ${this.o.slot}` },
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
    );
    this.service = service;
    service.on('data', (_lsn: string, msg: any) => this.serial(() => this.handle(msg)));
    service.on('heartbeat', (_lsn: string, _ts: number, shouldRespond: boolean) => {
      if (shouldRespond && !this.failed) void this.ack(this.lastCommitted);
    });
    service.on('error', (err: Error) => this.fail(err));
    const plugin = new TextPgoutputPlugin({
      protoVersion: 1,
      publicationNames: [this.o.publication],
      messages: true,
    });
    if (this.o.once) {
      // Everything committed before this position is staged once a heartbeat at or past it arrives.
      const res = await this.source.query('SELECT pg_current_wal_lsn()::text AS lsn');
      this.onceTarget = lsnToBigInt(res.rows[0].lsn);
    }
    // The slot resumes from its confirmed_flush_lsn, which never passes our checkpoint.
    service.subscribe(plugin, this.o.slot, '0/00000000').then(
      () => this.fail(new Error('replication stream ended')),
      (err: Error) => this.fail(err),
    );
    const beat = () => {
      if (this.source && !this.failed) emitHeartbeat(this.source, this.o.slot).catch((err) => this.fail(err));
    };
    beat();
    if (!this.o.once) this.heartbeat = setInterval(beat, this.o.heartbeatMs);
    try {
      return await done;
    } finally {
      await this.close();
    }
  }

  /** Graceful stop: commits and acknowledges what is pending, then resolves run(). */
  async stop(): Promise<void> {
    await this.serial(async () => {
      if (this.txVersion === null && this.groupEnd) await this.flush(this.groupEnd);
      this.settle.resolve('stopped');
    });
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.settle?.reject(err);
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const next = this.lock.then(async () => {
      if (this.failed) return;
      try {
        await fn();
      } catch (err) {
        this.fail(err as Error);
      }
    });
    this.lock = next;
    return next;
  }

  private async handle(msg: any): Promise<void> {
    switch (msg.tag) {
      case 'relation':
        return this.onRelation(msg);
      case 'begin':
        this.txVersion = lsnToBigInt(msg.commitLsn);
        return;
      case 'insert':
        return this.add(msg.relation.relationOid, 'row', msg.new);
      case 'update': {
        const rel = this.relations.get(msg.relation.relationOid);
        if (rel?.mapper && msg.key && !this.o.stopped.has(rel.mapper.label)) {
          const oldId = rel.mapper.sourceIdOf(msg.key);
          if (oldId !== rel.mapper.sourceIdOf(msg.new))
            await this.add(msg.relation.relationOid, 'delete', msg.key);
        }
        return this.add(msg.relation.relationOid, 'row', msg.new);
      }
      case 'delete':
        return this.add(msg.relation.relationOid, 'delete', msg.key ?? msg.old);
      case 'truncate':
        return this.onTruncate(msg.relations);
      case 'commit':
        return this.onCommit(msg.commitEndLsn);
      case 'message':
        if (msg.prefix === HEARTBEAT_PREFIX && !msg.transactional) return this.onHeartbeat(msg.messageLsn);
        return;
      default:
        return;
    }
  }

  private async add(oid: number, kind: 'row' | 'delete', values: TextRow): Promise<void> {
    const rel = this.relations.get(oid);
    if (!rel?.mapper || this.o.stopped.has(rel.mapper.label) || this.txVersion === null) return;
    this.chunk.push({ mapper: rel.mapper, kind, values, version: this.txVersion });
    this.groupRows++;
    if (this.chunk.length >= this.o.chunkRows) await this.writeChunk();
  }

  private async onCommit(endLsn: string): Promise<void> {
    this.txVersion = null;
    this.groupEnd = endLsn;
    if (!this.groupStart) this.groupStart = Date.now();
    const due =
      this.groupRows >= this.o.maxGroupRows || Date.now() - this.groupStart >= this.o.maxGroupDelayMs;
    if (due) return this.flush(endLsn);
    if (!this.timer)
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.serial(async () => {
          if (this.txVersion === null && this.groupEnd) await this.flush(this.groupEnd);
        });
      }, this.o.maxGroupDelayMs);
  }

  private async onHeartbeat(lsn: string): Promise<void> {
    if (this.txVersion !== null) return; // cannot happen: non-transactional messages come between transactions
    await this.flush(lsn);
    if (this.onceTarget !== null && lsnToBigInt(lsn) >= this.onceTarget) this.settle.resolve('caught_up');
  }

  /** Writes the chunk, the checkpoint, commits, then acknowledges (I1). */
  private async flush(lsn: string): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const behind = lsnToBigInt(lsn) < lsnToBigInt(this.lastCommitted);
    if (behind && !this.chunk.length && !this.staged) return;
    if (behind) lsn = this.lastCommitted;
    await this.writeChunk();
    const now = Date.now();
    this.rowsSinceStats += this.groupRows;
    const rowsPerSecond = Math.round((this.rowsSinceStats * 1000) / Math.max(1, now - this.lastStatsAt));
    if (now - this.lastStatsAt > 5000) {
      this.lastStatsAt = now;
      this.rowsSinceStats = 0;
    }
    const client = await this.stagingTx();
    await stageUnitIn(client, {
      tenant: this.o.tenant,
      system: this.o.system,
      batches: [],
      checkpoints: [{ stream: this.o.slot, position: { lsn, rowsPerSecond } }],
    });
    await client.query('COMMIT');
    client.release();
    this.staged = undefined;
    this.lastCommitted = lsn;
    await this.ack(lsn);
    this.o.onProgress?.({ lsn, rows: this.groupRows, rowsPerSecond });
    this.groupRows = 0;
    this.groupStart = 0;
    this.groupEnd = null;
  }

  /** Sends exactly `lsn` as written/flushed/applied (the library adds 1 to what it is given). */
  private async ack(lsn: string): Promise<void> {
    const v = lsnToBigInt(lsn);
    if (v === 0n || !this.service) return;
    await this.service.acknowledge(bigIntToLsn(v - 1n));
  }

  private async stagingTx(): Promise<pg.PoolClient> {
    if (this.staged) return this.staged;
    const client = await this.o.staging.pool.connect();
    try {
      await client.query('BEGIN');
    } catch (err) {
      client.release(err as Error);
      throw err;
    }
    this.staged = client;
    return client;
  }

  /** Maps the held changes and writes them into the open staging transaction. */
  private async writeChunk(): Promise<void> {
    if (!this.chunk.length) return;
    const chunk = this.chunk;
    this.chunk = [];
    const client = await this.stagingTx();
    const byEntity = new Map<Entity, Change[]>();
    const conditional: Change[] = [];
    // Keep stream order across tables: consecutive runs of one mapper are mapped together.
    for (let i = 0; i < chunk.length; ) {
      let j = i;
      while (j < chunk.length && chunk[j]!.mapper === chunk[i]!.mapper) j++;
      const mapper = chunk[i]!.mapper;
      for (const m of await this.mapRun(client, mapper, chunk.slice(i, j))) {
        if (m.op === 'skip') continue;
        const list = byEntity.get(mapper.entity) ?? [];
        byEntity.set(mapper.entity, list);
        if (m.op === 'delete_if_staged') conditional.push(m.change);
        list.push(m.change);
      }
      i = j;
    }
    if (conditional.length) await this.dropUnstagedDeletes(client, byEntity, conditional);
    await stageUnitIn(client, {
      tenant: this.o.tenant,
      system: this.o.system,
      batches: [...byEntity].map(([entity, changes]) => ({ entity, changes })),
      location: `slot ${this.o.slot}`,
    });
  }

  private async mapRun(client: pg.ClientBase, mapper: TableMapper, run: Pending[]): Promise<Mapped[]> {
    const rel = [...this.relations.values()].find((r) => r.mapper === mapper);
    const out: Mapped[] = [];
    const rows = run.filter((p) => p.kind === 'row');
    let mapped: Mapped[] = [];
    try {
      mapped = await mapper.mapStreamed(this.source!, rel?.columns ?? [], rows);
    } catch (err) {
      if ((err as { code?: string }).code === undefined) throw err;
      // A row the author's SQL cannot evaluate: find it, dead-letter it, keep the rest.
      mapped = [];
      for (const r of rows) {
        try {
          mapped.push(...(await mapper.mapStreamed(this.source!, rel?.columns ?? [], [r])));
        } catch (e) {
          mapped.push({ op: 'skip', change: { sourceId: '', version: r.version, op: 'delete' } });
          await addDeadLetters(client, [
            {
              tenant: this.o.tenant,
              system: this.o.system,
              entity: mapper.entity,
              sourceId: safeId(mapper, r.values),
              record: { raw: r.values },
              errorKind: 'mapping',
              errorMessage: `${mapper.label}: ${(e as Error).message}`,
              location: `slot ${this.o.slot} version ${bigIntToLsn(r.version)}`,
            },
          ]);
        }
      }
    }
    let k = 0;
    for (const p of run) {
      if (p.kind === 'row') out.push(mapped[k++]!);
      else
        out.push({
          op: mapper.hasFilter ? 'delete_if_staged' : 'delete',
          change: { sourceId: mapper.sourceIdOf(p.values), version: p.version, op: 'delete' },
        });
    }
    return out;
  }

  /** An out-of-scope row (row filter) is deleted only if staged or upserted earlier in this chunk. */
  private async dropUnstagedDeletes(
    client: pg.ClientBase,
    byEntity: Map<Entity, Change[]>,
    conditional: Change[],
  ) {
    const cond = new Set(conditional);
    for (const [entity, list] of byEntity) {
      const ids = [...new Set(list.filter((c) => cond.has(c)).map((c) => c.sourceId))];
      if (!ids.length) continue;
      const res = await client.query<{ source_id: string }>(
        `SELECT source_id FROM staging.${quoteIdent(entity)} WHERE tenant_id = $1 AND system = $2 AND source_id = ANY ($3)`,
        [this.o.tenant, this.o.system, ids],
      );
      const present = new Set(res.rows.map((r) => r.source_id));
      const upserted = new Set<string>();
      byEntity.set(
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

  private async onTruncate(relations: { relationOid: number }[]): Promise<void> {
    await this.writeChunk();
    const client = await this.stagingTx();
    for (const r of relations) {
      const rel = this.relations.get(r.relationOid);
      const mapper = rel?.mapper;
      if (!mapper || this.o.stopped.has(mapper.label) || this.txVersion === null) continue;
      const version = this.txVersion;
      let total = 0;
      for (let after = ''; ; ) {
        const res = await client.query<{ source_id: string }>(
          `SELECT source_id FROM staging.${quoteIdent(mapper.entity)}
            WHERE tenant_id = $1 AND system = $2 AND deleted_at IS NULL AND version < $3 AND source_id > $4
            ORDER BY source_id LIMIT 10000`,
          [this.o.tenant, this.o.system, version.toString(), after],
        );
        if (!res.rows.length) break;
        after = res.rows[res.rows.length - 1]!.source_id;
        total += res.rows.length;
        await stageUnitIn(client, {
          tenant: this.o.tenant,
          system: this.o.system,
          batches: [
            {
              entity: mapper.entity,
              changes: res.rows.map((x) => ({ sourceId: x.source_id, version, op: 'delete' as const })),
            },
          ],
          location: `TRUNCATE ${mapper.label} (slot ${this.o.slot})`,
        });
      }
      this.log.warn(
        { table: mapper.label, entity: mapper.entity, tombstoned: total },
        'source table truncated: staged rows tombstoned',
      );
    }
  }

  /** A Relation message precedes the first row of a table and follows any change of its columns. */
  private async onRelation(msg: any): Promise<void> {
    const mapper = this.o.mappers.find(
      (m) => m.mapping.schema === msg.schema && m.mapping.table === msg.name,
    );
    const cols: { name: string; typeOid: number; typeMod: number }[] = msg.columns;
    if (!mapper) {
      this.relations.set(msg.relationOid, { columns: [] });
      return;
    }
    // Rows already held were decoded with the old columns: write them before the shape changes.
    await this.writeChunk();
    const types = await formatTypes(this.source!, cols);
    const columns = cols.map((c, i) => ({ name: c.name, type: types[i]! }));
    this.relations.set(msg.relationOid, { mapper, columns });
    if (this.o.stopped.has(mapper.label)) return;
    const baseline = this.o.baseline.get(mapper.label);
    const problems: string[] = [];
    for (const ref of mapper.columnRefs()) {
      const now = cols.find((c) => c.name === ref);
      if (!now) problems.push(`mapped column "${ref}" was dropped`);
      else if (baseline?.has(ref) && baseline.get(ref) !== now.typeOid)
        problems.push(`mapped column "${ref}" changed type to ${types[cols.indexOf(now)]}`);
    }
    if (!problems.length && mapper.needsEval) {
      try {
        await this.source!.query(
          mapper.probeSql(columns),
          columns.map(() => []),
        );
      } catch (err) {
        problems.push(`the mapping's SQL no longer works on the new columns: ${(err as Error).message}`);
      }
    }
    if (problems.length) await this.stopTable(mapper, problems.join('; '));
  }

  private async stopTable(mapper: TableMapper, reason: string): Promise<void> {
    const message = `tenant ${this.o.tenant}, system ${this.o.system}, table ${mapper.label} (${mapper.entity}) stopped: ${reason}. Fix the mapping, then re-snapshot: trueup sync --tenant ${this.o.tenant} --system ${this.o.system} --resnapshot`;
    this.o.stopped.set(mapper.label, reason);
    this.chunk = this.chunk.filter((p) => p.mapper !== mapper);
    const client = await this.stagingTx();
    await addDeadLetters(client, [
      {
        tenant: this.o.tenant,
        system: this.o.system,
        entity: mapper.entity,
        sourceId: null,
        record: { table: mapper.label, reason },
        errorKind: 'schema_change',
        errorMessage: message,
        location: `slot ${this.o.slot} after ${this.lastCommitted}`,
      },
    ]);
    await setStreamState(
      this.o.staging.db,
      { tenant: this.o.tenant, system: this.o.system, stream: stoppedStream(this.o.slot, mapper.label) },
      'failed',
      message,
    );
    this.log.error({ table: mapper.label, reason }, message);
  }

  private async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.staged) {
      await this.staged.query('ROLLBACK').catch(() => {});
      this.staged.release();
      this.staged = undefined;
    }
    await this.service?.destroy().catch(() => {});
    await this.source?.end().catch(() => {});
  }
}

function safeId(mapper: TableMapper, values: TextRow): string | null {
  try {
    return mapper.sourceIdOf(values);
  } catch {
    return null;
  }
}

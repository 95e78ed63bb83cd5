// Runs one `postgres` source of one tenant: drives the state machine of source-machine.ts,
// performing each state's work (claiming the slot, startup slot check, snapshot, streaming,
// backoff) and feeding the outcome back as an event.
import { listCheckpoints, loadCheckpoint, setStreamState } from '../../../staging/checkpoints.js';
import type { Staging } from '../../../staging/database.js';
import { classifyPgError } from '../../../staging/errors.js';
import { sleep } from '../../../staging/model/backoff.js';
import type { Entity } from '../../../staging/model/entities.js';
import { childWith, type Logger } from '../../log/logger.js';
import { type PostgresSystemConfig, replicationNames } from './config.js';
import {
  CdcError,
  type CdcErrorDetail,
  resnapshotCommand,
  SlotClaimedError,
  SlotLostError,
  slotStillActive,
} from './errors.js';
import { lsnToBigInt } from './lsn.js';
import { TableMapper } from './mapping.js';
import { describeHolder, SlotClaim } from './slot-claim.js';
import { runSnapshot } from './snapshot.js';
import { connectSource, dropSlot, ensurePublication, slotInfo, tableCatalog } from './source-admin.js';
import { initialMachine, type Machine, type SourceEvent, transition } from './source-machine.js';
import { assertSourceIsNotStaging } from './source-not-staging.js';
import { StreamReader } from './stream-reader.js';
import { stoppedStream } from './table-events.js';

export interface RunSourceOptions {
  tenant: string;
  system: string;
  config: PostgresSystemConfig;
  staging: Staging;
  logger: Logger;
  once: boolean;
  resnapshot?: boolean;
  signal?: AbortSignal;
  /** Observes each state change (tests, status). */
  onState?: (m: Machine) => void;
  /** The tenant's entity configs: each table's entity's `mappingVersion` is stamped on its changes. */
  entities?: Readonly<Partial<Record<Entity, { mappingVersion?: number }>>> | undefined;
  /** Observes each chunk of streamed changes handed on to mapping and staging (tests). */
  onChunk?: (c: { changes: number; rows: number }) => void;
}

export interface SourceOutcome {
  outcome: 'caught_up' | 'stopped' | 'failed';
  error?: Error;
  stoppedTables: string[];
}

interface Prepared {
  needsSnapshot: boolean;
  fromLsn: string;
  baseline: Map<string, Map<string, number>>;
}

export async function runSource(o: RunSourceOptions): Promise<SourceOutcome> {
  const { slot, publication } = replicationNames(o.tenant, o.system, o.config);
  const detail: CdcErrorDetail = { tenant: o.tenant, system: o.system, slot };
  const log = childWith(o.logger, { tenant: o.tenant, system: o.system, slot });
  const mappers = o.config.tables.map((t) => new TableMapper(t, o.entities?.[t.entity]?.mappingVersion));
  const policy = {
    minMs: o.config.stream.backoffMinMs,
    maxMs: o.config.stream.backoffMaxMs,
    claimRetryMs: o.config.stream.claimRetryMs,
  };
  const stopped = new Map<string, string>();
  let resnapshot = o.resnapshot ?? false;
  let m = initialMachine();
  let prepared: Prepared | undefined;
  let reader: StreamReader | undefined;
  const claim = new SlotClaim(o.staging, { tenant: o.tenant, system: o.system, slot });
  // A lost claim stops the stream reader, or a snapshot before its next batch.
  let snapshotting: AbortController | undefined;
  claim.onLost((err) => {
    const lost = new CdcError(
      `lost the claim on slot "${slot}" (${err.message}); claiming it again`,
      'transient',
      detail,
      { cause: err },
    );
    reader?.abort(lost);
    snapshotting?.abort(lost);
  });
  const requireClaim = () => {
    if (!claim.held)
      throw new CdcError(`lost the claim on slot "${slot}"; claiming it again`, 'transient', detail);
  };
  let waitingLogged = false;
  const onAbort = () => void reader?.stop();
  o.signal?.addEventListener('abort', onAbort);
  const dispatch = (e: SourceEvent) => {
    const before = m.state;
    m = transition(m, e, Date.now(), policy);
    if (m.state !== before) log.info({ from: before, to: m.state, event: e.type }, `source ${m.state}`);
    o.onState?.(m);
  };
  // Since when transient failures have followed each other without progress (m.attempt > 0).
  let failingSince = 0;
  const failWith = (err: unknown) => {
    const error = err as Error;
    const kind =
      err instanceof CdcError ? err.kind : slotStillActive(err) ? 'transient' : classifyPgError(err);
    if (kind === 'transient' && !o.signal?.aborted) {
      if (m.attempt === 0) failingSince = Date.now();
      const retryMs = o.config.stream.onceRetryMs;
      if (o.once && Date.now() - failingSince >= retryMs) {
        const gaveUp = new CdcError(
          `gave up after retrying for ${retryMs >= 1000 ? `${Math.round(retryMs / 1000)} s` : `${retryMs} ms`} under --once (stream.onceRetryMs): ${error.message}`,
          'terminal',
          detail,
          { cause: error },
        );
        dispatch({ type: 'terminal_error', error: gaveUp });
        return;
      }
      log.warn({ err: error }, 'source failed, will retry');
      dispatch({ type: 'transient_error', error });
    } else dispatch({ type: 'terminal_error', error });
  };

  try {
    while (m.state !== 'stopped') {
      if (o.signal?.aborted) {
        dispatch({ type: 'stop' });
        break;
      }
      try {
        switch (m.state) {
          case 'claiming': {
            const r = await claim.tryClaim();
            if (r.claimed) {
              if (waitingLogged) log.info('took over the slot claim');
              waitingLogged = false;
              dispatch({ type: 'claimed' });
            } else if (o.once) {
              dispatch({
                type: 'terminal_error',
                error: new SlotClaimedError(describeHolder(r.holder), { ...detail, slot }),
              });
            } else {
              if (!waitingLogged)
                log.info(
                  { holder: r.holder },
                  `slot is being read by ${describeHolder(r.holder)}; waiting to take over`,
                );
              waitingLogged = true;
              dispatch({ type: 'claim_busy' });
            }
            break;
          }
          case 'waiting':
            await sleep(Math.max(0, (m.retryAt ?? 0) - Date.now()), o.signal);
            dispatch({ type: 'wait_elapsed' });
            break;
          case 'connecting':
            requireClaim();
            prepared = await prepare(o, mappers, slot, publication, detail, stopped, resnapshot);
            dispatch({ type: 'connected', needsSnapshot: prepared.needsSnapshot });
            break;
          case 'snapshotting':
            requireClaim();
            snapshotting = new AbortController();
            await runSnapshot({
              tenant: o.tenant,
              system: o.system,
              slot,
              sourceUrl: o.config.connection,
              staging: o.staging,
              mappers: mappers.filter((x) => !stopped.has(x.label)),
              readers: o.config.snapshot.readers,
              batchRows: o.config.snapshot.batchRows,
              logger: log,
              signal: snapshotting.signal,
            }).finally(() => {
              snapshotting = undefined;
            });
            resnapshot = false;
            prepared = undefined;
            // Re-read the slot and checkpoint before streaming, as after any reconnect.
            dispatch({ type: 'snapshot_done' });
            prepared = await prepare(o, mappers, slot, publication, detail, stopped, false);
            break;
          case 'streaming': {
            requireClaim();
            const p = prepared ?? (await prepare(o, mappers, slot, publication, detail, stopped, false));
            prepared = undefined;
            reader = new StreamReader({
              tenant: o.tenant,
              system: o.system,
              slot,
              publication,
              sourceUrl: o.config.connection,
              staging: o.staging,
              mappers,
              baseline: p.baseline,
              stopped,
              fromLsn: p.fromLsn,
              chunkRows: o.config.stream.chunkRows,
              maxGroupRows: o.config.stream.maxGroupRows,
              maxGroupDelayMs: o.config.stream.maxGroupDelayMs,
              heartbeatMs: o.config.stream.heartbeatSeconds * 1000,
              once: o.once,
              logger: log,
              onProgress: () => {
                if (m.attempt) dispatch({ type: 'progress' });
              },
              ...(o.onChunk ? { onChunk: o.onChunk } : {}),
            });
            if (o.signal?.aborted) break;
            const how = await reader.run();
            reader = undefined;
            dispatch(how === 'caught_up' ? { type: 'caught_up' } : { type: 'stop' });
            break;
          }
          case 'backing-off': {
            await sleep(Math.max(0, (m.retryAt ?? 0) - Date.now()), o.signal);
            dispatch({ type: 'backoff_elapsed' });
            break;
          }
        }
      } catch (err) {
        reader = undefined;
        failWith(err);
      }
    }
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await claim.release();
  }
  if (m.outcome === 'failed') log.error({ err: m.lastError }, 'source stopped by an error');
  return {
    outcome: m.outcome ?? 'stopped',
    ...(m.lastError && m.outcome === 'failed' ? { error: m.lastError } : {}),
    stoppedTables: [...stopped.keys()],
  };
}

/** The startup check: publication, slot and checkpoint agree, or a loud error says what to do. */
async function prepare(
  o: RunSourceOptions,
  mappers: readonly TableMapper[],
  slot: string,
  publication: string,
  detail: CdcErrorDetail,
  stopped: Map<string, string>,
  resnapshot: boolean,
): Promise<Prepared> {
  const source = await connectSource(o.config.connection);
  try {
    await assertSourceIsNotStaging(source, o.staging.pool, detail);
    const baseline = new Map<string, Map<string, number>>();
    for (const mapper of mappers) {
      const cat = await tableCatalog(source, mapper, detail);
      const have = new Set(cat.columns.map((c) => c.name));
      const absent = mapper.columnRefs().filter((c) => !have.has(c));
      // While streaming, the stream's own Relation messages decide (changes made before the column
      // went are still to be staged); a snapshot cannot read a column that is gone.
      if (absent.length && (resnapshot || !(await hasStreamingCheckpoint(o, slot))))
        throw new CdcError(
          `tenant ${o.tenant}, system ${o.system}: table ${mapper.label} has no column ${absent.map((c) => `"${c}"`).join(', ')}`,
          'terminal',
          { ...detail, table: mapper.label },
        );
      if (cat.replicaIdentity !== 'f' && !mapper.mapping.key.every((k) => cat.identityColumns.includes(k)))
        throw new CdcError(
          `tenant ${o.tenant}, system ${o.system}: deletes of ${mapper.label} would not carry its key (${mapper.mapping.key.join(', ')}); ` +
            `make the key the primary key or run ALTER TABLE ${mapper.qualified} REPLICA IDENTITY FULL`,
          'terminal',
          { ...detail, table: mapper.label },
        );
      baseline.set(mapper.label, new Map(cat.columns.map((c) => [c.name, c.typeOid])));
    }
    await ensurePublication(source, publication, mappers, o.config.requireExisting, detail);
    const position = (await loadCheckpoint(o.staging.pool, {
      tenant: o.tenant,
      system: o.system,
      stream: slot,
    })) as { lsn?: string; phase?: string } | undefined;
    let info = await slotInfo(source, slot);
    if (resnapshot || position?.phase === 'snapshotting') {
      if (info?.active)
        throw new CdcError(`slot "${slot}" is in use by another process`, 'transient', detail);
      if (info) await dropSlot(source, slot);
      await clearStoppedTables(o, slot, mappers, stopped);
      return { needsSnapshot: true, fromLsn: '0/0', baseline };
    }
    await loadStoppedTables(o, slot, stopped);
    const lsn = position?.lsn;
    if (!info) {
      if (lsn) throw new SlotLostError('does not exist any more', { ...detail, slot, lsn });
      if (o.config.requireExisting)
        throw new CdcError(
          `tenant ${o.tenant}, system ${o.system}: slot "${slot}" does not exist and requireExisting is set`,
          'terminal',
          detail,
        );
      return { needsSnapshot: true, fromLsn: '0/0', baseline };
    }
    if (info.walStatus === 'lost' || !info.restartLsn)
      throw new SlotLostError('was invalidated (wal_status lost: the WAL it needed was removed)', {
        ...detail,
        slot,
        ...(lsn ? { lsn } : {}),
      });
    if (!lsn)
      throw new CdcError(
        `tenant ${o.tenant}, system ${o.system}: slot "${slot}" exists but trueup has no checkpoint for it, so the rows before it are unknown. ` +
          `Run \`${resnapshotCommand(o.tenant, o.system)}\` (drops and recreates the slot)`,
        'terminal',
        detail,
      );
    if (info.confirmedFlushLsn && lsnToBigInt(info.confirmedFlushLsn) > lsnToBigInt(lsn))
      throw new SlotLostError(
        `is at ${info.confirmedFlushLsn}, past the staged checkpoint: changes in between were acknowledged but not staged`,
        { ...detail, slot, lsn },
      );
    if (info.active) {
      // A killed predecessor's walsender may linger a moment: retry with backoff.
      info = await slotInfo(source, slot);
      if (info?.active)
        throw new CdcError(`slot "${slot}" is in use by another process`, 'transient', detail);
    }
    return { needsSnapshot: false, fromLsn: lsn, baseline };
  } finally {
    await source.end().catch(() => {});
  }
}

async function hasStreamingCheckpoint(o: RunSourceOptions, slot: string): Promise<boolean> {
  const p = (await loadCheckpoint(o.staging.pool, { tenant: o.tenant, system: o.system, stream: slot })) as
    | { lsn?: string }
    | undefined;
  return !!p?.lsn;
}

async function loadStoppedTables(o: RunSourceOptions, slot: string, stopped: Map<string, string>) {
  for (const cp of await listCheckpoints(o.staging.db, o.tenant)) {
    const prefix = stoppedStream(slot, '');
    if (cp.system === o.system && cp.stream.startsWith(prefix) && cp.state === 'failed')
      stopped.set(cp.stream.slice(prefix.length), cp.detail ?? 'stopped');
  }
}

async function clearStoppedTables(
  o: RunSourceOptions,
  slot: string,
  mappers: readonly TableMapper[],
  stopped: Map<string, string>,
) {
  stopped.clear();
  for (const m of mappers)
    await setStreamState(
      o.staging.db,
      { tenant: o.tenant, system: o.system, stream: stoppedStream(slot, m.label) },
      'resnapshotted',
      null,
    );
}

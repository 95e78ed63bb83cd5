// What the extractors of every non-CDC connector (salesforce, hubspot, netsuite, csv) share around the HTTP client: the SyncReport every
// `run…Sync` returns, the staging step that commits one page group's rows, dead letters and
// stream checkpoint in one transaction, and the per-stream error handling (daily limit → paused,
// terminal → failed, the other streams and tenants go on).

import type pg from 'pg';
import { setStreamState } from '../../staging/checkpoints.js';
import type { Db, Staging } from '../../staging/database.js';
import { inTransaction } from '../../staging/database.js';
import { addDeadLetters, type NewDeadLetter } from '../../staging/dead-letters.js';
import type { Change } from '../../staging/model/change.js';
import type { Entity } from '../../staging/model/entities.js';
import type { PreparedBatch } from '../../staging/prepare-changes.js';
import { prepareUnit, stageUnitIn } from '../../staging/stage.js';
import { registerSecret } from '../config/secrets.js';
import type { Logger } from '../log/logger.js';
import { type ClientLimits, DailyLimitError } from './http/api-client.js';
import type { TenantEntities } from './map-record.js';

export interface SyncDeps {
  staging: Staging;
  logger: Logger;
}

export interface SyncOptions {
  /**
   * The tenant's entity configs: mapping overrides (`entities.<e>.mapping.<system>`) and
   * mappingVersion, read by every connector through tenantEntityMapping (map-record.ts).
   */
  entities?: TenantEntities;
  /** auto (default): full load for streams without a checkpoint, incremental otherwise. */
  mode?: 'auto' | 'full' | 'incremental';
  /** Restrict to these streams (object types / record streams). */
  streams?: readonly string[];
  /** Overrides of the configured client limits (tests shorten backoffs). */
  limits?: Partial<ClientLimits>;
  /** Called after each committed staging unit; throwing from it simulates a crash (tests). */
  onUnitStaged?: (info: { stream: string; rows: number; position: unknown }) => void | Promise<void>;
  /**
   * Called after a 401 (OAuth refresh); a returned string becomes the bearer token for the rest of
   * the run. Without it a 401 is terminal.
   */
  refreshAuth?: () => Promise<string | undefined>;
  /** Clock (epoch ms); tests pin it. */
  now?: () => number;
}

export type StreamStatus = 'completed' | 'paused' | 'failed';

export interface StreamReport {
  stream: string;
  entity: Entity;
  mode: 'full' | 'incremental';
  status: StreamStatus;
  /** Records received from the API (upserts and deletes). */
  received: number;
  inserted: number;
  updated: number;
  deleted: number;
  ignored: number;
  deadLettered: number;
  detail?: string;
}

export interface SyncReport {
  tenant: string;
  system: string;
  kind: string;
  /** completed: every stream done; paused: a daily limit stopped the tenant; failed: a stream failed. */
  status: StreamStatus;
  streams: StreamReport[];
  requests: number;
  retries: number;
  throttled: number;
  durationMs: number;
  /** When paused by a daily limit: when the vendor says the limit resets (if known). */
  resumeAt?: string;
  error?: string;
}

export function mergeLimits(
  configured: ClientLimits,
  override: Partial<ClientLimits> | undefined,
): ClientLimits {
  return { ...configured, ...override };
}

export function emptyStreamReport(
  stream: string,
  entity: Entity,
  mode: 'full' | 'incremental',
): StreamReport {
  return {
    stream,
    entity,
    mode,
    status: 'completed',
    received: 0,
    inserted: 0,
    updated: 0,
    deleted: 0,
    ignored: 0,
    deadLettered: 0,
  };
}

export interface PendingUnit {
  batches: Map<Entity, Change[]>;
  /** The batches validated and encoded ahead of the commit (preparePendingUnit), if done. */
  prepared?: readonly PreparedBatch[];
  deadLetters: NewDeadLetter[];
  rows: number;
}

/**
 * Validates and encodes the unit's changes now (staging prepareUnit), so that its commit only
 * talks to Postgres: a connector prepares the next unit while the previous one commits.
 */
export function preparePendingUnit(
  unit: PendingUnit,
  scope: { tenant: string; system: string; location: string },
): void {
  const batches = [...unit.batches].map(([entity, changes]) => ({ entity, changes }));
  unit.prepared = [...(unit.prepared ?? []), ...prepareUnit({ ...scope, batches }).batches];
  unit.batches.clear();
}

export function newPendingUnit(): PendingUnit {
  return { batches: new Map(), deadLetters: [], rows: 0 };
}

export function addChange(unit: PendingUnit, entity: Entity, change: Change): void {
  const list = unit.batches.get(entity);
  if (list) list.push(change);
  else unit.batches.set(entity, [change]);
  unit.rows++;
}

/**
 * Commits a unit: mapping failures as dead letters, the changes (invalid ones dead-lettered by
 * the write path), and the stream's checkpoint, in one transaction. Adds the counts to `report`.
 */
export async function commitUnit(
  pool: pg.Pool,
  args: {
    tenant: string;
    system: string;
    stream: string;
    position: unknown;
    unit: PendingUnit;
    report: StreamReport;
    location: string;
  },
): Promise<void> {
  const { unit, report } = args;
  preparePendingUnit(unit, args);
  const batches = unit.prepared ?? [];
  const results = await inTransaction(pool, async (client) => {
    await addDeadLetters(client, unit.deadLetters);
    return stageUnitIn(client, {
      tenant: args.tenant,
      system: args.system,
      batches,
      checkpoints: [{ stream: args.stream, position: args.position }],
      location: args.location,
    });
  });
  report.deadLettered += unit.deadLetters.length;
  for (const b of batches) report.deleted += b.deletes;
  for (const r of Object.values(results)) {
    report.inserted += r.inserted;
    report.updated += r.updated;
    report.ignored += r.ignored;
    report.deadLettered += r.deadLettered;
  }
  unit.batches.clear();
  delete unit.prepared;
  unit.deadLetters = [];
  unit.rows = 0;
}

/**
 * Runs one stream and records its outcome. A DailyLimitError is rethrown (the caller pauses the
 * tenant's remaining streams); any other error marks the stream failed and is swallowed so that
 * the next stream runs.
 */
export async function runStream(
  db: Db,
  key: { tenant: string; system: string; stream: string },
  report: StreamReport,
  logger: Logger,
  fn: () => Promise<void>,
): Promise<void> {
  try {
    await fn();
    report.status = 'completed';
  } catch (err) {
    if (err instanceof DailyLimitError) {
      report.status = 'paused';
      report.detail = err.message;
      throw err;
    }
    report.status = 'failed';
    report.detail = (err as Error).message;
    logger.error({ err, stream: key.stream }, 'stream failed; its checkpoint stays where it was');
    await setStreamState(db, key, 'failed', report.detail).catch((e: unknown) =>
      logger.error({ err: e }, 'could not record the failed stream state'),
    );
  }
}

/** Marks the given streams paused with the daily-limit reason. */
export async function pauseStreams(
  db: Db,
  tenant: string,
  system: string,
  streams: readonly string[],
  err: DailyLimitError,
): Promise<void> {
  const detail = `daily API limit reached: ${err.message}${err.resumeAt ? `; resumes after ${err.resumeAt.toISOString()}` : ''}`;
  for (const stream of streams) await setStreamState(db, { tenant, system, stream }, 'paused', detail);
}

/** Epoch milliseconds → version in microseconds (the staging version of a modification stamp). */
export function msToVersion(ms: number): bigint {
  return BigInt(ms) * 1000n;
}

export function finishReport(
  base: Omit<SyncReport, 'status' | 'durationMs'>,
  startedAt: number,
  paused: DailyLimitError | null,
): SyncReport {
  const failed = base.streams.find((s) => s.status === 'failed');
  const status: StreamStatus = paused ? 'paused' : failed ? 'failed' : 'completed';
  return {
    ...base,
    status,
    durationMs: Date.now() - startedAt,
    ...(paused?.resumeAt ? { resumeAt: paused.resumeAt.toISOString() } : {}),
    ...(paused ? { error: paused.message } : failed ? { error: `${failed.stream}: ${failed.detail}` } : {}),
  };
}

/**
 * Runs `prepare` (parse the system's config, resolve its mappings); a failure becomes the
 * system's failed report, logged, instead of an exception at a caller looping over tenants.
 */
export function prepareSystem<T>(
  logger: Logger,
  key: { tenant: string; system: string; kind: string; startedAt: number },
  prepare: () => T,
): { ok: true; value: T } | { ok: false; report: SyncReport } {
  try {
    return { ok: true, value: prepare() };
  } catch (err) {
    logger.error({ err }, `${key.kind} system config or mapping is invalid`);
    return { ok: false, report: configFailure(key.tenant, key.system, key.kind, key.startedAt, err) };
  }
}

/**
 * A bearer token that `SyncOptions.refreshAuth` can replace after a 401: `token()` reads the
 * current one; `refreshAuth` (only when the caller gave a refresh hook) fetches the next.
 */
export function refreshableToken(
  initial: string,
  refresh: SyncOptions['refreshAuth'],
): { token: () => string; refreshAuth?: () => Promise<void> } {
  let token = initial;
  return {
    token: () => token,
    ...(refresh
      ? {
          refreshAuth: async () => {
            const fresh = await refresh();
            if (typeof fresh === 'string' && fresh) {
              // A refreshed token is as secret as the configured one: never in a log line.
              registerSecret(fresh);
              token = fresh;
            }
          },
        }
      : {}),
  };
}

/** Options of a corrective writer (salesforce, hubspot, netsuite). */
export interface WriterOptions {
  /** Overrides of the configured client limits. */
  limits?: Partial<ClientLimits>;
  /** The tenant's entity configs: the same mapping overrides the extraction reads. */
  entities?: TenantEntities;
}

/** What committing a stream's unit needs besides the unit. */
export interface StreamCommitContext {
  deps: SyncDeps;
  tenant: string;
  system: string;
  report: StreamReport;
  onUnitStaged?: SyncOptions['onUnitStaged'];
}

/**
 * Commits a unit of `stream` with its checkpoint (commitUnit), then tells onUnitStaged how many
 * records (staged and dead-lettered) it held.
 */
export async function commitStreamUnit(
  ctx: StreamCommitContext,
  stream: string,
  position: unknown,
  unit: PendingUnit,
  location: string,
): Promise<void> {
  const rows = unit.rows + unit.deadLetters.length;
  await commitUnit(ctx.deps.staging.pool, {
    tenant: ctx.tenant,
    system: ctx.system,
    stream,
    position,
    unit,
    report: ctx.report,
    location,
  });
  await ctx.onUnitStaged?.({ stream, rows, position });
}

/** The report of a system that could not start (invalid config or mapping). */
export function configFailure(
  tenant: string,
  system: string,
  kind: string,
  startedAt: number,
  err: unknown,
): SyncReport {
  const issues = (err as { issues?: { path: PropertyKey[]; message: string }[] }).issues;
  const message = issues
    ? issues.map((i) => `${i.path.map(String).join('.') || '(config)'}: ${i.message}`).join('; ')
    : (err as Error).message;
  return {
    tenant,
    system,
    kind,
    status: 'failed',
    streams: [],
    requests: 0,
    retries: 0,
    throttled: 0,
    durationMs: Date.now() - startedAt,
    error: `invalid ${kind} config for ${tenant}/${system}: ${message}`,
  };
}

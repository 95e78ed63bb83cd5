// What one pass over a system reports: per stream, what was received and what staging did with
// it, and for the system, how the pass ended (completed, paused by a daily limit, failed, stopped);
// and the lines `trueup sync` and the demo print of it.
import { ZodError } from 'zod';
import type { Entity } from '../../staging/model/entities.js';
import type { DeadLetterReason, EntityTally } from './staged-tally.js';

export type { DeadLetterReason } from './staged-tally.js';

export type StreamStatus = 'completed' | 'paused' | 'failed' | 'stopped';

export interface StreamReport {
  stream: string;
  entity: Entity;
  mode: 'full' | 'incremental';
  status: StreamStatus;
  /** Records received from the source (upserts and deletes). */
  received: number;
  inserted: number;
  updated: number;
  deleted: number;
  ignored: number;
  deadLettered: number;
  detail?: string;
}

/** What the run staged and could not for one entity (staged-tally.ts), with the rows it read. */
export interface EntityReport extends EntityTally {
  /** Records read from the source for this entity (the share's denominator). */
  read: number;
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
  /** A continuous source's own words (slot, stopped tables); its reports have no streams. */
  detail?: string;
  /** Per entity: staged, tombstoned, dead-lettered this run, open dead letters (absent: not read). */
  entities?: EntityReport[];
}

/** An entity whose dead letters this run exceed `sync.maxDeadLetterShare` of the rows it read. */
export interface DeadLetterAlert {
  entity: Entity;
  deadLetters: number;
  read: number;
  message: string;
}

/** A share as trueup prints it: 0.0123 → "1.23%". */
export const percent = (share: number): string => `${Number((share * 100).toFixed(2))}%`;

/** Whether `deadLetters` of `read` rows are over the tenant's `sync.maxDeadLetterShare`. */
export function overDeadLetterShare(deadLetters: number, read: number, maxShare: number): boolean {
  return deadLetters > 0 && deadLetters > maxShare * read;
}

/**
 * The entities of a report over the tenant's `sync.maxDeadLetterShare` (dead letters this run
 * above that share of the rows read, per entity): a sync with any exits 1. Each message names
 * the mapping to look at and the largest reason.
 */
export function deadLetterAlerts(r: SyncReport, maxShare: number): DeadLetterAlert[] {
  const alerts: DeadLetterAlert[] = [];
  for (const e of r.entities ?? []) {
    if (!overDeadLetterShare(e.deadLetters, e.read, maxShare)) continue;
    const top = e.reasons[0];
    alerts.push({
      entity: e.entity,
      deadLetters: e.deadLetters,
      read: e.read,
      message:
        `${r.tenant}/${r.system} ${e.entity}: ${e.deadLetters} of ${e.read} rows read were dead-lettered ` +
        `(${percent(e.deadLetters / e.read)}, above sync.maxDeadLetterShare ${percent(maxShare)}); look at the ` +
        `${e.entity} mapping of system ${r.system} (tenants.${r.tenant}.systems.${r.system}, ` +
        `tenants.${r.tenant}.entities.${e.entity}.mapping.${r.system})` +
        (top ? `; most common: ${top.kind}: ${top.reason}` : ''),
    });
  }
  return alerts;
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

/** The pass's status from its streams: paused over failed over completed. */
export function finishReport(
  base: Omit<SyncReport, 'status' | 'durationMs'>,
  startedAt: number,
  paused: { message: string; resumeAt: Date | null } | null,
): SyncReport {
  const failed = base.streams.find((s) => s.status === 'failed');
  const status: StreamStatus = paused ? 'paused' : failed || base.error ? 'failed' : 'completed';
  return {
    ...base,
    status,
    durationMs: Date.now() - startedAt,
    ...(paused?.resumeAt ? { resumeAt: paused.resumeAt.toISOString() } : {}),
    ...(paused
      ? { error: paused.message }
      : failed && !base.error
        ? { error: `${failed.stream}: ${failed.detail}` }
        : {}),
  };
}

/** The report of a system that could not start (unknown kind, invalid config or mapping). */
export function configFailure(
  key: { tenant: string; system: string; kind: string },
  startedAt: number,
  err: unknown,
): SyncReport {
  const message =
    err instanceof ZodError
      ? err.issues.map((i) => `${i.path.map(String).join('.') || '(config)'}: ${i.message}`).join('; ')
      : err instanceof Error
        ? err.message
        : String(err);
  return {
    ...key,
    status: 'failed',
    streams: [],
    requests: 0,
    retries: 0,
    throttled: 0,
    durationMs: Date.now() - startedAt,
    error: `invalid ${key.kind} config for ${key.tenant}/${key.system}: ${message}`,
  };
}

/** Sum of one count over a report's streams. */
export function totalOf(
  r: SyncReport,
  k: 'received' | 'inserted' | 'updated' | 'deleted' | 'ignored' | 'deadLettered',
): number {
  return r.streams.reduce((n, s) => n + s[k], 0);
}

/**
 * Per entity, under the pass's line: what the run staged, tombstoned and dead-lettered (grouped
 * by reason, first record ids) and the open dead letters. Empty when the report has no tally.
 */
export function describeEntities(r: SyncReport): string {
  return (r.entities ?? []).map((e) => `${entityLine(e)}\n${e.reasons.map(reasonLine).join('')}`).join('');
}

function entityLine(e: EntityReport): string {
  const tomb = `${e.tombstones} tombstone${e.tombstones === 1 ? '' : 's'}`;
  return `  ${e.entity}: ${e.read} read, ${e.staged} staged, ${tomb}, ${e.deadLetters} dead-lettered this run, ${e.openDeadLetters} open dead letter${e.openDeadLetters === 1 ? '' : 's'}`;
}

function reasonLine(g: DeadLetterReason): string {
  const ids = g.sourceIds.map((id) => id ?? '(no id)').join(', ');
  return `    ${g.count} × ${g.kind}: ${g.reason}${ids ? ` (e.g. ${ids})` : ''}\n`;
}

/** One line per pass: "acme/crm (salesforce): completed, 3 streams, 1200 received, 1180 staged, 2 dead-lettered". */
export function describeReport(r: SyncReport): string {
  const sum = (k: 'received' | 'inserted' | 'updated' | 'deadLettered') => totalOf(r, k);
  const why = r.error ? ` — ${r.error}` : r.resumeAt ? ` — resumes after ${r.resumeAt}` : '';
  // A continuous source: its own words (slot, stopped tables), and caught up instead of completed.
  if (r.detail !== undefined)
    return `${r.tenant}/${r.system} (${[r.kind, r.detail].filter(Boolean).join(', ')}): ${r.status === 'completed' ? 'caught up' : r.status}${why}`;
  // A delete that changed staging is already an insert (tombstone of an unseen record) or an
  // update; `deleted` counts the deletes received, applied or not, so it is not added again.
  const staged = sum('inserted') + sum('updated');
  const head = `${r.tenant}/${r.system} (${r.kind}): ${r.status}`;
  const counts = `${r.streams.length} stream${r.streams.length === 1 ? '' : 's'}, ${sum('received')} received, ${staged} staged, ${sum('deadLettered')} dead-lettered`;
  const streams = r.streams
    .filter((s) => s.status !== 'completed')
    .map((s) => `\n  ${s.stream}: ${s.status}${s.detail ? ` — ${s.detail}` : ''}`)
    .join('');
  return `${head}, ${counts}${why}${streams}`;
}

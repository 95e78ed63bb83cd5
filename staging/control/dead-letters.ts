// control.dead_letters: records that could not be staged, with their reason and location. The
// same record failing the same way again bumps `attempts` and `last_seen` instead of adding a row.
// Statuses and transitions: dead-letter-states.ts; replays: replay-dead-letters.ts.
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type pg from 'pg';
import type { Db } from '../database.js';
import { enterTenantScope } from '../tenant-scope.js';
import {
  type DeadLetterStatus,
  deadLetterStatusesAllowing,
  deadLetterTransition,
} from './dead-letter-states.js';

export interface NewDeadLetter {
  tenant: string;
  system: string;
  entity: string;
  sourceId: string | null;
  /** What was received: `{change}` for a mapped change, `{raw}` for a record that failed mapping. */
  record: unknown;
  /** invalid_record, mapping, parse, schema_change, write_rejected, … */
  errorKind: string;
  errorMessage: string;
  /** Where: "drops/acme/customer/2024-01.csv line 17", "slot trueup_acme lsn 0/16B3748". */
  location?: string | null;
}

export interface DeadLetter {
  id: string;
  tenant: string;
  system: string;
  entity: string;
  sourceId: string | null;
  record: unknown;
  errorKind: string;
  errorMessage: string;
  location: string | null;
  /** Why the last `dlq replay` failed; errorMessage keeps the original reason. */
  lastReplayError: string | null;
  status: DeadLetterStatus;
  attempts: number;
  firstSeen: Date;
  lastSeen: Date;
}

function fingerprint(d: NewDeadLetter): string {
  return createHash('sha256')
    .update(JSON.stringify([d.system, d.entity, d.sourceId, d.errorKind, d.record]))
    .digest('hex');
}

// Postgres text and jsonb cannot hold U+0000, and a record is often dead-lettered precisely
// because it holds one: stored as it is, the dead letter itself would fail and abort the batch
// it came with. So every NUL in the stored source_id, error message and location is replaced by
// the visible six characters `\u0000`, and in the record by the same text (the JSON escape
// `\u0000` becomes `\\u0000`); such a record gets `nulReplaced: true` so that a replay knows
// it no longer holds what the source sent. The fingerprint is taken before the replacement.
const NUL_TEXT = '\\u0000';
/** A JSON `\u0000` escape, i.e. one preceded by an even number of backslashes. */
const JSON_NUL = /(?<!\\)((?:\\\\)*)\\u0000/g;

function nulSafeText(s: string): string;
function nulSafeText(s: string | null): string | null;
function nulSafeText(s: string | null): string | null {
  return s?.includes('\0') ? s.replaceAll('\0', NUL_TEXT) : s;
}

/** The record as JSON text that jsonb accepts (see above). */
export function nulSafeRecordJson(record: unknown): string {
  const json = JSON.stringify(record ?? null);
  if (!json.includes('\\u0000')) return json;
  const replaced = json.replace(JSON_NUL, '$1\\\\u0000');
  if (replaced === json) return json; // only the escaped text "\\u0000", not a NUL
  const safe = JSON.parse(replaced) as unknown;
  return JSON.stringify(
    typeof safe === 'object' && safe !== null && !Array.isArray(safe)
      ? { ...safe, nulReplaced: true }
      : { record: safe, nulReplaced: true },
  );
}

/**
 * Adds dead letters in the caller's transaction (so they commit with the batch they came from).
 * Letters with the same fingerprint are merged first (ON CONFLICT cannot touch one row twice in
 * a statement): the last one's message and location, attempts = how many there were.
 */
export async function addDeadLetters(
  client: pg.ClientBase,
  letters: readonly NewDeadLetter[],
): Promise<void> {
  if (!letters.length) return;
  const merged = new Map<string, { letter: NewDeadLetter; fingerprint: string; count: number }>();
  for (const letter of letters) {
    const fp = fingerprint(letter);
    const key = `${letter.tenant}\0${fp}`;
    const prev = merged.get(key);
    merged.set(key, { letter, fingerprint: fp, count: (prev?.count ?? 0) + 1 });
  }
  const rows = [...merged.values()];
  // One tenant's letters are written in its scope (the rest of the caller's transaction stays in it).
  const tenants = new Set(letters.map((l) => l.tenant));
  if (tenants.size === 1) await enterTenantScope(client, letters[0]!.tenant);
  // The conflict target names the unique index's predicate (open letters only, L1).
  await client.query(
    `INSERT INTO control.dead_letters AS d
       (tenant_id, system, entity, source_id, record, error_kind, error_message, location, fingerprint, attempts)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int[])
     ON CONFLICT (tenant_id, fingerprint) WHERE status = 'open' DO UPDATE SET
       attempts = d.attempts + EXCLUDED.attempts, last_seen = now(), error_message = EXCLUDED.error_message, location = EXCLUDED.location`,
    [
      rows.map((r) => r.letter.tenant),
      rows.map((r) => r.letter.system),
      rows.map((r) => r.letter.entity),
      rows.map((r) => nulSafeText(r.letter.sourceId)),
      rows.map((r) => nulSafeRecordJson(r.letter.record)),
      rows.map((r) => r.letter.errorKind),
      rows.map((r) => nulSafeText(r.letter.errorMessage)),
      rows.map((r) => nulSafeText(r.letter.location ?? null)),
      rows.map((r) => r.fingerprint),
      rows.map((r) => r.count),
    ],
  );
}

export interface DeadLetterFilter {
  tenant?: string;
  system?: string;
  entity?: string;
  status?: DeadLetterStatus | 'all';
  ids?: readonly string[];
  limit?: number;
  /** Only ids after this one (paging one tenant's letters in id order). */
  afterId?: string;
}

export async function listDeadLetters(db: Db, filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
  let q = db.selectFrom('control.dead_letters').selectAll().orderBy('tenant_id').orderBy('id');
  if (filter.tenant) q = q.where('tenant_id', '=', filter.tenant);
  if (filter.system) q = q.where('system', '=', filter.system);
  if (filter.entity) q = q.where('entity', '=', filter.entity);
  if (filter.ids?.length) q = q.where('id', 'in', [...filter.ids]);
  if (filter.afterId !== undefined) q = q.where('id', '>', filter.afterId);
  const status = filter.status ?? 'open';
  if (status !== 'all') q = q.where('status', '=', status);
  if (filter.limit) q = q.limit(filter.limit);
  const rows = await q.execute();
  return rows.map((r) => ({
    id: String(r.id),
    tenant: r.tenant_id,
    system: r.system,
    entity: r.entity,
    sourceId: r.source_id,
    record: r.record,
    errorKind: r.error_kind,
    errorMessage: r.error_message,
    location: r.location,
    lastReplayError: r.last_replay_error,
    status: r.status,
    attempts: r.attempts,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
  }));
}

export async function countOpenDeadLetters(
  db: Db,
): Promise<{ tenant: string; system: string; entity: string; count: number }[]> {
  const rows = await db
    .selectFrom('control.dead_letters')
    .select(['tenant_id', 'system', 'entity', db.fn.countAll<string>().as('n')])
    .where('status', '=', 'open')
    .groupBy(['tenant_id', 'system', 'entity'])
    .orderBy('tenant_id')
    .execute();
  return rows.map((r) => ({ tenant: r.tenant_id, system: r.system, entity: r.entity, count: Number(r.n) }));
}

/** Marks dead letters discarded (kept for audit, no longer open). Returns how many changed. */
export async function discardDeadLetters(db: Db, tenant: string, ids: readonly string[]): Promise<number> {
  if (!ids.length) return 0;
  const res = await db
    .updateTable('control.dead_letters')
    .set({ status: deadLetterTransition('open', 'discard'), resolved_at: new Date() })
    .where('tenant_id', '=', tenant)
    .where('id', 'in', [...ids])
    .where('status', 'in', deadLetterStatusesAllowing('discard'))
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** Marks one dead letter replayed, in the transaction that staged its record again. */
export async function markReplayed(db: Db, tenant: string, id: string): Promise<void> {
  await db
    .updateTable('control.dead_letters')
    .set({ status: deadLetterTransition('open', 'replay'), resolved_at: sql<Date>`now()` })
    .where('tenant_id', '=', tenant)
    .where('id', '=', id)
    .where('status', 'in', deadLetterStatusesAllowing('replay'))
    .execute();
}

/**
 * Bumps attempts of a dead letter whose replay failed again. The reason goes to
 * last_replay_error: error_message keeps the original reason (file, line, field).
 */
export async function markReplayFailed(db: Db, tenant: string, id: string, message: string): Promise<void> {
  await db
    .updateTable('control.dead_letters')
    .set((eb) => ({
      attempts: eb('attempts', '+', 1),
      last_seen: new Date(),
      last_replay_error: nulSafeText(message),
    }))
    .where('tenant_id', '=', tenant)
    .where('id', '=', id)
    .where('status', 'in', deadLetterStatusesAllowing('replay_failed'))
    .execute();
}

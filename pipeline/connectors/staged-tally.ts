// What one sync run staged and could not, read back from staging after the run, per entity of
// one tenant × system: rows staged (live) and tombstoned by the run (staged_seq past the run's
// start), the run's dead letters grouped by reason with their first record ids, and the open
// dead-letter total. Read from the tables, not counted on the way, so every kind (a CDC source
// included) reports the same figures. See docs/capture.md, "What a sync reports".
import type pg from 'pg';
import { quoteIdent } from '../../staging/identifiers.js';
import { ENTITIES, type Entity } from '../../staging/model/entities.js';
import { withTenantScope } from '../../staging/tenant-scope.js';

/** Where a run started: the staged_seq and the database clock before its first write. */
export interface RunMark {
  seq: string;
  at: Date;
}

export interface DeadLetterReason {
  /** The error kind and the message with record-specific parts (ids, values, lines) left out. */
  kind: string;
  reason: string;
  count: number;
  /** The first few source ids (null: a row without an id, a file). */
  sourceIds: (string | null)[];
}

export interface EntityTally {
  entity: Entity;
  /** Live rows this run wrote (inserted or changed). */
  staged: number;
  /** Rows this run tombstoned. */
  tombstones: number;
  /** Dead letters this run added (or met again). */
  deadLetters: number;
  reasons: DeadLetterReason[];
  /** Open dead letters of this entity and system, this run's and earlier ones. */
  openDeadLetters: number;
}

const FIRST_IDS = 3;
/** Dead letters read for grouping; beyond it only counted (the groups are then of the first ones). */
const GROUPED_LIMIT = 10_000;

export async function markRun(pool: pg.Pool): Promise<RunMark> {
  const res = await pool.query<{ seq: string; at: Date }>(
    `SELECT (CASE WHEN is_called THEN last_value ELSE last_value - 1 END)::text AS seq, clock_timestamp() AS at
       FROM staging.staged_seq`,
  );
  const row = res.rows[0]!;
  return { seq: row.seq, at: row.at };
}

/**
 * The tally of every entity of the system that this run touched or that has open dead letters,
 * plus those in `always` (the entities of the run's streams), in entity order.
 */
export async function tallyRun(
  pool: pg.Pool,
  scope: { tenant: string; system: string },
  mark: RunMark,
  always: readonly Entity[] = [],
): Promise<EntityTally[]> {
  // Read under the tenant's scope (staging/tenant-scope.ts), as its writes were.
  return withTenantScope(pool, scope.tenant, (client) => tally(client, scope, mark, always));
}

async function tally(
  pool: pg.ClientBase,
  scope: { tenant: string; system: string },
  mark: RunMark,
  always: readonly Entity[],
): Promise<EntityTally[]> {
  const { tenant, system } = scope;
  const out: EntityTally[] = [];
  const dead = await pool.query<{ entity: string; run: string; open: string }>(
    `SELECT entity,
            count(*) FILTER (WHERE last_seen >= $3)::text AS run,
            count(*) FILTER (WHERE status = 'open')::text AS open
       FROM control.dead_letters
      WHERE tenant_id = $1 AND system = $2 AND (status = 'open' OR last_seen >= $3)
      GROUP BY entity`,
    [tenant, system, mark.at],
  );
  const deadBy = new Map(dead.rows.map((r) => [r.entity, { run: Number(r.run), open: Number(r.open) }]));
  for (const entity of ENTITIES) {
    const rows = await pool.query<{ staged: string; tombstones: string }>(
      `SELECT count(*) FILTER (WHERE deleted_at IS NULL)::text AS staged,
              count(*) FILTER (WHERE deleted_at IS NOT NULL)::text AS tombstones
         FROM staging.${quoteIdent(entity)}
        WHERE tenant_id = $1 AND system = $2 AND staged_seq > $3`,
      [tenant, system, mark.seq],
    );
    const staged = Number(rows.rows[0]?.staged ?? 0);
    const tombstones = Number(rows.rows[0]?.tombstones ?? 0);
    const d = deadBy.get(entity) ?? { run: 0, open: 0 };
    if (!staged && !tombstones && !d.run && !d.open && !always.includes(entity)) continue;
    out.push({
      entity,
      staged,
      tombstones,
      deadLetters: d.run,
      reasons: d.run ? await runReasons(pool, { tenant, system, entity }, mark) : [],
      openDeadLetters: d.open,
    });
  }
  return out;
}

async function runReasons(
  pool: pg.ClientBase,
  scope: { tenant: string; system: string; entity: Entity },
  mark: RunMark,
): Promise<DeadLetterReason[]> {
  const res = await pool.query<{ error_kind: string; error_message: string; source_id: string | null }>(
    `SELECT error_kind, error_message, source_id FROM control.dead_letters
      WHERE tenant_id = $1 AND system = $2 AND entity = $3 AND last_seen >= $4
      ORDER BY id LIMIT ${GROUPED_LIMIT}`,
    [scope.tenant, scope.system, scope.entity, mark.at],
  );
  return groupReasons(res.rows);
}

/** Dead letters grouped by kind and reason, the largest group first. */
export function groupReasons(
  letters: readonly { error_kind: string; error_message: string; source_id: string | null }[],
): DeadLetterReason[] {
  const groups = new Map<string, DeadLetterReason>();
  for (const l of letters) {
    const reason = reasonOf(l.error_message, l.source_id);
    const key = `${l.error_kind}\0${reason}`;
    let g = groups.get(key);
    if (!g) {
      g = { kind: l.error_kind, reason, count: 0, sourceIds: [] };
      groups.set(key, g);
    }
    g.count++;
    if (g.sourceIds.length < FIRST_IDS) g.sourceIds.push(l.source_id);
  }
  return [...groups.values()].sort((a, b) => b.count - a.count);
}

/**
 * A message without what differs from record to record, so that one broken mapping is one
 * group: the record's id, quoted values, file names with their line, and numbers become "…".
 */
export function reasonOf(message: string, sourceId: string | null): string {
  let s = message;
  if (sourceId) {
    const id = sourceId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    s = s.replace(new RegExp(`(^|[^\\p{L}\\p{N}_])${id}(?![\\p{L}\\p{N}_])`, 'gu'), '$1…');
  }
  return s
    .replace(/^[^:]*\bline \d+: /, '')
    .replace(/"(?:[^"\\]|\\.)*"/g, '"…"')
    .replace(/\b\d+(?:\.\d+)?\b/g, '…')
    .replace(/…(?:[\s,…]*…)+/g, '…')
    .trim();
}

/** What staging holds now for one tenant × system × entity (`trueup status`). */
export interface StagedState {
  tenant: string;
  system: string;
  entity: Entity;
  live: number;
  tombstones: number;
  openDeadLetters: number;
  /** Open dead letters grouped by reason (of the first GROUPED_LIMIT). */
  reasons: DeadLetterReason[];
}

/**
 * Staged rows and open dead letters of every tenant × system × entity (or one tenant's), with
 * the open dead letters grouped by reason: what `trueup status` shows per stream.
 */
export async function stagedState(pool: pg.Pool, tenant?: string): Promise<StagedState[]> {
  const byKey = new Map<string, StagedState>();
  const get = (t: string, system: string, entity: Entity) => {
    const key = `${t}\0${system}\0${entity}`;
    let s = byKey.get(key);
    if (!s) {
      s = { tenant: t, system, entity, live: 0, tombstones: 0, openDeadLetters: 0, reasons: [] };
      byKey.set(key, s);
    }
    return s;
  };
  for (const entity of ENTITIES) {
    const res = await pool.query<{ tenant_id: string; system: string; live: string; tombstones: string }>(
      `SELECT tenant_id, system, count(*) FILTER (WHERE deleted_at IS NULL)::text AS live,
              count(*) FILTER (WHERE deleted_at IS NOT NULL)::text AS tombstones
         FROM staging.${quoteIdent(entity)} WHERE ($1::text IS NULL OR tenant_id = $1)
        GROUP BY tenant_id, system`,
      [tenant ?? null],
    );
    for (const r of res.rows) {
      const s = get(r.tenant_id, r.system, entity);
      s.live = Number(r.live);
      s.tombstones = Number(r.tombstones);
    }
  }
  const dead = await pool.query<{
    tenant_id: string;
    system: string;
    entity: string;
    error_kind: string;
    error_message: string;
    source_id: string | null;
    total: string;
  }>(
    `SELECT tenant_id, system, entity, error_kind, error_message, source_id, total::text
       FROM (SELECT d.*, row_number() OVER w AS n, count(*) OVER w AS total
               FROM control.dead_letters d
              WHERE status = 'open' AND ($1::text IS NULL OR tenant_id = $1)
             WINDOW w AS (PARTITION BY tenant_id, system, entity ORDER BY id
                          ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) x
      WHERE n <= ${GROUPED_LIMIT}
      ORDER BY tenant_id, system, entity, id`,
    [tenant ?? null],
  );
  const letters = new Map<StagedState, typeof dead.rows>();
  for (const r of dead.rows) {
    if (!(ENTITIES as readonly string[]).includes(r.entity)) continue;
    const s = get(r.tenant_id, r.system, r.entity as Entity);
    s.openDeadLetters = Number(r.total);
    const list = letters.get(s);
    if (list) list.push(r);
    else letters.set(s, [r]);
  }
  for (const [s, list] of letters) s.reasons = groupReasons(list);
  return [...byKey.values()].sort(
    (a, b) =>
      a.tenant.localeCompare(b.tenant) ||
      a.system.localeCompare(b.system) ||
      ENTITIES.indexOf(a.entity) - ENTITIES.indexOf(b.entity),
  );
}

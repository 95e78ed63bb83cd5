// Reading and deciding the corrections reconciliation proposes (control.actions) for reviewers:
// approve a proposed action, or reject a proposed or approved one, all or nothing, with one
// control.audit row per action in the same transaction. A decision is final for that correction
// of that observed version: a later run that proposes the same correction again (same
// idempotency key) leaves an approved or rejected action as it is (lifecycle.ts revives only
// actions a run itself made stale); a run that no longer proposes it marks an approved one
// skipped_stale, because the data it was approved against has moved on.
import type pg from 'pg';
import { inTransaction } from '../staging/database.js';
import type { Entity } from '../staging/model/entities.js';
import type { ActionStatus } from '../staging/tables/action.table.js';
import { lockForDecision } from './lifecycle.js';

export const ACTION_STATUSES: readonly ActionStatus[] = [
  'proposed',
  'approved',
  'rejected',
  'applied',
  'failed',
  'skipped_stale',
];

export interface ActionView {
  id: string;
  runId: string;
  entity: string;
  kind: 'upsert' | 'create';
  targetSystem: string;
  targetId: string | null;
  fields: Record<string, unknown>;
  explanation: Record<string, unknown>;
  observedVersion: string | null;
  status: ActionStatus;
  decidedBy: string | null;
  decidedAt: Date | null;
  /** The reviewer's reason, when the current status is their approval or rejection. */
  decisionReason: string | null;
  appliedAt: Date | null;
  error: string | null;
  createdAt: Date;
}

export interface ActionFilter {
  tenant: string;
  entity?: Entity;
  /** Omitted: every status. */
  status?: ActionStatus;
  targetSystem?: string;
  ids?: readonly string[];
  limit?: number;
}

/** Actions of a tenant in the order they were proposed (by id). */
export async function listActions(db: pg.Pool | pg.PoolClient, f: ActionFilter): Promise<ActionView[]> {
  const { rows } = await db.query(
    `SELECT id::text, run_id, entity, kind, target_system, target_id, fields, explanation,
            observed_version::text, status, decided_by, decided_at, applied_at, error, created_at
       FROM control.actions
      WHERE tenant_id = $1 AND ($2::text IS NULL OR entity = $2) AND ($3::text IS NULL OR status = $3)
        AND ($4::text IS NULL OR target_system = $4) AND ($6::bigint[] IS NULL OR id = ANY($6::bigint[]))
      ORDER BY id
      LIMIT $5`,
    [f.tenant, f.entity ?? null, f.status ?? null, f.targetSystem ?? null, f.limit ?? 1_000, f.ids ?? null],
  );
  const reasons = await decisionReasons(db, f.tenant, rows);
  return rows.map((r) => ({
    id: r.id,
    runId: r.run_id,
    entity: r.entity,
    kind: r.kind,
    targetSystem: r.target_system,
    targetId: r.target_id,
    fields: r.fields,
    explanation: r.explanation,
    observedVersion: r.observed_version,
    status: r.status,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    decisionReason: reasons.get(r.id) ?? null,
    appliedAt: r.applied_at,
    error: r.error,
    createdAt: r.created_at,
  }));
}

/**
 * The reason of the reviewer decision each approved or rejected action is in. control.actions has
 * no column for it; the audit row of the decision holds it. Only the latest decision counts, and
 * only while the action is still in the status it set by the same reviewer (a policy approval,
 * or a decision a run later undid, has no reason to show).
 */
async function decisionReasons(
  db: pg.Pool | pg.PoolClient,
  tenant: string,
  rows: { id: string; status: string; decided_by: string | null }[],
): Promise<Map<string, string>> {
  const decided = rows.filter((r) => (r.status === 'approved' || r.status === 'rejected') && r.decided_by);
  if (!decided.length) return new Map();
  const { rows: audit } = await db.query<{
    action_id: string;
    action: string;
    actor: string;
    reason: string | null;
  }>(
    `SELECT DISTINCT ON (au.subject) substr(au.subject, 8) AS action_id, au.action, au.actor,
            au.detail->>'reason' AS reason
       FROM control.audit au
      WHERE au.tenant_id = $1 AND au.subject = ANY($2::text[]) AND au.action IN ('action.approve', 'action.reject')
      ORDER BY au.subject, au.id DESC`,
    [tenant, decided.map((r) => `action:${r.id}`)],
  );
  const byId = new Map(decided.map((r) => [r.id, r]));
  const out = new Map<string, string>();
  for (const a of audit) {
    const r = byId.get(a.action_id);
    const status = a.action === 'action.approve' ? 'approved' : 'rejected';
    if (r && a.reason && r.status === status && r.decided_by === a.actor) out.set(a.action_id, a.reason);
  }
  return out;
}

export type Decision = 'approve' | 'reject';

/** The statuses a decision may start from: nothing applied, failed or already decided against. */
export const DECIDABLE: Readonly<Record<Decision, readonly ActionStatus[]>> = {
  approve: ['proposed'],
  reject: ['proposed', 'approved'],
};

const NEW_STATUS: Readonly<Record<Decision, ActionStatus>> = { approve: 'approved', reject: 'rejected' };

export class DecideError extends Error {
  override name = 'DecideError';
  readonly kind = 'terminal';
  constructor(
    message: string,
    readonly detail: {
      tenant: string;
      decision: Decision;
      missing: string[];
      notAllowed: { id: string; status: ActionStatus }[];
    },
  ) {
    super(message);
  }
}

export interface DecideInput {
  tenant: string;
  decision: Decision;
  ids: readonly string[];
  by: string;
  /** Required for a rejection (the CLI checks it); optional for an approval. */
  reason: string | null;
}

/**
 * Approves or rejects actions of a tenant by id: all or none. Unknown ids, or actions whose status
 * the decision may not change (DECIDABLE), fail the whole call with a DecideError naming them.
 *
 * Concurrency. The run's write transaction (lifecycle.ts writeResults) takes an advisory lock per
 * tenant × entity before it touches any action; taking the same locks first, in entity order,
 * then locking the actions in id order (as discrepancies accept does), serialises a decision with
 * a run's write without deadlocks. The row locks alone keep it correct against any writer: the
 * status is read after the lock is granted, so an action a run made stale, or an apply step
 * marked applied, while this call waited is refused, not overwritten.
 */
export async function decideActions(pool: pg.Pool, input: DecideInput): Promise<ActionView[]> {
  const d = { ...input, ids: [...new Set(input.ids)] };
  return inTransaction(pool, async (client) => {
    const found = (await lockForDecision(client, 'actions', d.tenant, d.ids)) as Map<string, ActionStatus>;
    const missing = d.ids.filter((id) => !found.has(id));
    const notAllowed = d.ids.flatMap((id) => {
      const status = found.get(id);
      return status && !DECIDABLE[d.decision].includes(status) ? [{ id, status }] : [];
    });
    if (missing.length || notAllowed.length) {
      const allowed = DECIDABLE[d.decision].join(' or ');
      throw new DecideError(
        `tenant ${d.tenant}: ${[
          missing.length ? `no action ${missing.join(', ')}` : '',
          notAllowed.length
            ? `not ${allowed}: ${notAllowed.map((x) => `${x.id} (${x.status})`).join(', ')}`
            : '',
        ]
          .filter(Boolean)
          .join('; ')} — nothing was ${NEW_STATUS[d.decision]}`,
        { tenant: d.tenant, decision: d.decision, missing, notAllowed },
      );
    }
    await client.query(
      `WITH prev AS (
         SELECT id, status, decided_by FROM control.actions WHERE tenant_id = $1 AND id = ANY($2::bigint[])),
       upd AS (
         UPDATE control.actions a SET status = $3, decided_by = $4, decided_at = now()
           FROM prev
          WHERE a.tenant_id = $1 AND a.id = prev.id
          RETURNING a.id, a.entity, a.kind, a.target_system, a.target_id, a.fields, a.observed_version,
                    a.explanation->>'matchKey' AS match_key, a.explanation->'source' AS source,
                    prev.status AS previous, prev.decided_by AS previous_by)
       INSERT INTO control.audit (tenant_id, actor, action, subject, detail)
       SELECT $1, $4, $6, 'action:' || upd.id,
              jsonb_build_object('entity', upd.entity, 'kind', upd.kind, 'targetSystem', upd.target_system,
                                 'targetId', upd.target_id, 'fields', upd.fields,
                                 'observedVersion', upd.observed_version::text, 'matchKey', upd.match_key,
                                 'source', upd.source, 'reason', $5::text, 'previousStatus', upd.previous,
                                 'previousDecidedBy', upd.previous_by, 'newStatus', $3::text)
         FROM upd`,
      [d.tenant, d.ids, NEW_STATUS[d.decision], d.by, d.reason, `action.${d.decision}`],
    );
    return listActions(client, { tenant: d.tenant, ids: d.ids, limit: d.ids.length });
  });
}

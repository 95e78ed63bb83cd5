// control.actions: the corrections a run proposes, a reviewer's decision on them, and what a run's
// write does to them. Statuses and transitions: action-states.ts. Decisions are all or nothing and
// audited in the same transaction; docs/review.md tells the story.
import { sql } from 'kysely';
import type pg from 'pg';
import type { Db } from '../database.js';
import { assertTenantId, quoteLiteral } from '../identifiers.js';
import type { Entity } from '../model/entities.js';
import { TrueupError } from '../model/errors.js';
import {
  type ActionKind,
  type ActionStatus,
  actionStatusesAllowing,
  actionTransition,
  SUPERSEDED_PREFIX,
  UNDECIDED_ACTION_STATUSES,
} from './action-states.js';
import { type AuditAction, latestDecisions } from './audit.js';
import { clientDb } from './control-db.js';
import { rowsToPg } from './copy-rows.js';
import { lockForDecision } from './entity-results-lock.js';
import { sqlList } from './transition-table.js';

const UNDECIDED = sql.raw(sqlList(UNDECIDED_ACTION_STATUSES));

export interface ActionView {
  id: string;
  runId: string;
  entity: string;
  kind: ActionKind;
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
export async function listActions(db: Db, f: ActionFilter): Promise<ActionView[]> {
  let q = db
    .selectFrom('control.actions')
    .select([
      sql<string>`id::text`.as('id'),
      'run_id',
      'entity',
      'kind',
      'target_system',
      'target_id',
      'fields',
      'explanation',
      sql<string | null>`observed_version::text`.as('observed_version'),
      'status',
      'decided_by',
      'decided_at',
      'applied_at',
      'error',
      'created_at',
    ])
    .where('tenant_id', '=', f.tenant);
  if (f.entity) q = q.where('entity', '=', f.entity);
  if (f.status) q = q.where('status', '=', f.status);
  if (f.targetSystem !== undefined) q = q.where('target_system', '=', f.targetSystem);
  if (f.ids) q = q.where(sql<boolean>`id = ANY(${f.ids}::bigint[])`);
  const rows = await q
    // The table's bigint id, not the text column of the same name the select outputs (which
    // Postgres would order as text: 1, 10, 100, 2, …).
    .orderBy(sql`control.actions.id`)
    .limit(f.limit ?? 1_000)
    .execute();
  const reasons = await decisionReasons(db, f.tenant, rows);
  return rows.map((r) => ({
    id: r.id,
    runId: r.run_id,
    entity: r.entity,
    kind: r.kind,
    targetSystem: r.target_system,
    targetId: r.target_id,
    fields: r.fields as Record<string, unknown>,
    explanation: r.explanation as Record<string, unknown>,
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
 * The reason of the reviewer decision each approved or rejected action is in (the audit holds
 * it). Only the latest decision counts, and only while the action is still in the status it set,
 * by the same reviewer: a policy approval, or a decision a run later undid, has no reason to show.
 */
async function decisionReasons(
  db: Db,
  tenant: string,
  rows: readonly { id: string; status: ActionStatus; decided_by: string | null }[],
): Promise<Map<string, string>> {
  const decided = rows.filter((r) => (r.status === 'approved' || r.status === 'rejected') && r.decided_by);
  const latest = await latestDecisions(
    db,
    tenant,
    decided.map((r) => r.id),
  );
  const out = new Map<string, string>();
  for (const r of decided) {
    const a = latest.get(r.id);
    const status = a?.action === 'action.approve' ? 'approved' : 'rejected';
    if (a?.reason && a.actor === r.decided_by && r.status === status) out.set(r.id, a.reason);
  }
  return out;
}

export type Decision = 'approve' | 'reject';

/** The statuses a decision may start from (action-states.ts): nothing applied, failed or decided against. */
export const DECIDABLE: Readonly<Record<Decision, readonly ActionStatus[]>> = {
  approve: actionStatusesAllowing('approve'),
  reject: actionStatusesAllowing('reject'),
};

export class DecideError extends TrueupError {
  override name = 'DecideError';
  constructor(
    message: string,
    readonly detail: {
      tenant: string;
      decision: Decision;
      missing: string[];
      notAllowed: { id: string; status: ActionStatus }[];
    },
  ) {
    super(message, { kind: 'terminal', subject: { tenant: detail.tenant } });
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
 * Serialised with a run's write by the results lock (entity-results-lock.ts); the status is read
 * under the row lock, so an action made stale or applied meanwhile is refused, not overwritten.
 */
export async function decideActions(db: Db, input: DecideInput): Promise<ActionView[]> {
  const d = { ...input, ids: [...new Set(input.ids)] };
  return db.transaction().execute(async (trx) => {
    const found = (await lockForDecision(trx, 'actions', d.tenant, d.ids)) as Map<string, ActionStatus>;
    const missing = d.ids.filter((id) => !found.has(id));
    const notAllowed = d.ids.flatMap((id) => {
      const status = found.get(id);
      return status && !DECIDABLE[d.decision].includes(status) ? [{ id, status }] : [];
    });
    const newStatus = actionTransition('proposed', d.decision);
    const audited: AuditAction = `action.${d.decision}`;
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
          .join('; ')} — nothing was ${newStatus}`,
        { tenant: d.tenant, decision: d.decision, missing, notAllowed },
      );
    }
    await sql`
      WITH prev AS (
        SELECT id, status, decided_by FROM control.actions WHERE tenant_id = ${d.tenant} AND id = ANY(${d.ids}::bigint[])),
      upd AS (
        UPDATE control.actions a SET status = ${newStatus}, decided_by = ${d.by}, decided_at = now()
          FROM prev
         WHERE a.tenant_id = ${d.tenant} AND a.id = prev.id
         RETURNING a.id, a.entity, a.kind, a.target_system, a.target_id, a.fields, a.observed_version,
                   a.explanation->>'matchKey' AS match_key, a.explanation->'source' AS source,
                   prev.status AS previous, prev.decided_by AS previous_by)
      INSERT INTO control.audit (tenant_id, actor, action, subject, detail)
      SELECT ${d.tenant}, ${d.by}, ${audited}, 'action:' || upd.id,
             jsonb_build_object('entity', upd.entity, 'kind', upd.kind, 'targetSystem', upd.target_system,
                                'targetId', upd.target_id, 'fields', upd.fields,
                                'observedVersion', upd.observed_version::text, 'matchKey', upd.match_key,
                                'source', upd.source, 'reason', ${d.reason}::text, 'previousStatus', upd.previous,
                                'previousDecidedBy', upd.previous_by, 'newStatus', ${newStatus}::text)
        FROM upd`.execute(trx);
    return listActions(trx, { tenant: d.tenant, ids: d.ids, limit: d.ids.length });
  });
}

/** One correction a run plans (survivorship), as control.actions stores it. */
export interface NewAction {
  targetSystem: string;
  targetId: string | null;
  kind: ActionKind;
  fields: Record<string, unknown>;
  explanation: Record<string, unknown>;
  observedVersion: string | null;
  idempotencyKey: string;
}

/** Which run writes, for the run-write functions below. */
export interface RunWrite {
  tenant: string;
  entity: string;
  runId: string;
}

/**
 * Inserts a run's actions in `status` (proposed, or approved by policy), inside the caller's
 * transaction on `client` (they arrive by COPY). A correction already stored keeps its row and
 * decision (A1, A2); only one a run or an acceptance withdrew comes back. Returns how many rows
 * were written.
 */
export async function insertRunActions(
  client: pg.ClientBase,
  run: RunWrite,
  status: 'proposed' | 'approved',
  actions: readonly NewAction[],
): Promise<number> {
  await client.query(
    `CREATE TEMP TABLE trueup_act (target_system text, target_id text, kind text, fields jsonb,
       explanation jsonb, observed_version bigint, idempotency_key text) ON COMMIT DROP`,
  );
  await rowsToPg(
    client,
    'trueup_act (target_system, target_id, kind, fields, explanation, observed_version, idempotency_key)',
    actions.map((a) => [
      a.targetSystem,
      a.targetId,
      a.kind,
      JSON.stringify(a.fields),
      JSON.stringify(a.explanation),
      a.observedVersion,
      a.idempotencyKey,
    ]),
  );
  const event = status === 'approved' ? 'auto_approve' : 'propose';
  const revivable = sql.raw(sqlList(actionStatusesAllowing(event)));
  const res = await sql`
    INSERT INTO control.actions (tenant_id, run_id, entity, target_system, target_id, kind, fields, explanation,
        observed_version, idempotency_key, status, decided_by, decided_at)
    SELECT ${run.tenant}, ${run.runId}, ${run.entity}, x.target_system, x.target_id, x.kind, x.fields, x.explanation,
           x.observed_version, x.idempotency_key, ${status}, ${status === 'approved' ? 'policy:auto_approve' : null}::text,
           ${status === 'approved' ? sql`now()` : sql`NULL::timestamptz`}
      FROM trueup_act x
    ON CONFLICT (tenant_id, idempotency_key) DO UPDATE SET
      status = EXCLUDED.status, run_id = EXCLUDED.run_id, explanation = EXCLUDED.explanation,
      decided_by = EXCLUDED.decided_by, decided_at = EXCLUDED.decided_at, error = NULL
    WHERE control.actions.status IN ${revivable}
      AND control.actions.error LIKE ${`${SUPERSEDED_PREFIX}%`}`.execute(clientDb(client));
  return Number(res.numAffectedRows ?? 0n);
}

/**
 * Undecided actions of earlier runs that this run no longer proposes (their idempotency key is not
 * in `keep`) become skipped_stale (A3) — only among `examined` ids when given (an incremental run
 * leaves the actions of records outside its scope alone). Returns how many.
 */
export async function supersedeActions(
  db: Db,
  run: RunWrite,
  keep: readonly string[],
  examined: readonly string[] | null,
): Promise<number> {
  const res = await sql`
    UPDATE control.actions a SET status = ${actionTransition('proposed', 'supersede')},
           error = ${SUPERSEDED_PREFIX} || ${run.runId}::text
     WHERE a.tenant_id = ${run.tenant} AND a.entity = ${run.entity} AND a.status IN ${UNDECIDED}
       AND a.run_id <> ${run.runId}
       AND NOT EXISTS (SELECT 1 FROM unnest(${keep}::text[]) AS k(key) WHERE k.key = a.idempotency_key)
       AND (${examined}::bigint[] IS NULL OR a.id = ANY (${examined}::bigint[]))`.execute(db);
  return Number(res.numAffectedRows ?? 0n);
}

/**
 * COPY query (no parameters: COPY takes none; the values are quoted literals) of the undecided
 * actions of earlier runs of a tenant × entity, each with the record it concerns: the one it
 * writes to, or for a create the one it copies. Columns: 'a', id, crm_id, erp_id.
 */
export function undecidedActionRefsSql(q: {
  tenant: string;
  entity: string;
  runId: string;
  crmSystem: string;
}): string {
  const [tenant, entity, runId, crmSystem] = [assertTenantId(q.tenant), q.entity, q.runId, q.crmSystem].map(
    quoteLiteral,
  );
  return `SELECT 'a', a.id, CASE WHEN r.sys = ${crmSystem} THEN r.rid END, CASE WHEN r.sys <> ${crmSystem} THEN r.rid END
       FROM control.actions a
       CROSS JOIN LATERAL (SELECT
         CASE WHEN a.kind = 'create' THEN a.explanation->'source'->>'system' ELSE a.target_system END AS sys,
         CASE WHEN a.kind = 'create' THEN a.explanation->'source'->>'id' ELSE a.target_id END AS rid) r
      WHERE a.tenant_id = ${tenant} AND a.entity = ${entity} AND a.status IN ${sqlList(UNDECIDED_ACTION_STATUSES)}
        AND a.run_id <> ${runId}`;
}

/** The discrepancies a reviewer accepts, for withdrawing the actions that would correct them. */
export interface Withdrawal {
  tenant: string;
  /** Discrepancy ids. */
  ids: readonly string[];
  by: string;
  reason: string;
  /** The tenant's CRM and ERP system names: a create names the system of the record it copies. */
  systems: { crm: string; erp: string } | null;
}

/**
 * Withdraws (skipped_stale, audited) the undecided actions that would correct accepted
 * discrepancies, inside the caller's transaction. An action corrects a discrepancy of its tenant
 * and entity when it is, for a field mismatch, the upsert of that pair setting the field (withdrawn
 * whole: the next run proposes the other fields again on their own); for a missing record, the
 * create copying it. Duplicate matches and deleted records get no actions. The reason starts like
 * a run's (SUPERSEDED_PREFIX, naming the run whose finding was accepted), so a later run needing
 * the same correction again brings the action back (A2). Returns the actions and their discrepancies.
 */
export async function withdrawActions(
  db: Db,
  w: Withdrawal,
): Promise<{ id: string; discrepancies: string[] }[]> {
  // Locks the actions (a writer deciding one at the same moment waits, or wins and is skipped).
  const { rows } = await sql<{ action: string; status: string; disc: string; run: string }>`
    SELECT act.id::text AS action, act.status, d.id::text AS disc, d.last_seen_run AS run
      FROM control.discrepancies_now d
      JOIN control.actions act ON act.tenant_id = d.tenant_id AND act.entity = d.entity
     WHERE d.tenant_id = ${w.tenant} AND d.id = ANY(${w.ids}::bigint[]) AND act.status IN ${UNDECIDED}
       AND CASE d.class
             WHEN 'field_mismatch' THEN act.kind = 'upsert' AND act.explanation->>'matchKey' = d.match_key
                                        AND act.fields ? d.field
             WHEN 'missing_in_erp' THEN act.kind = 'create' AND act.explanation->'source'->>'system' = ${w.systems?.crm ?? null}
                                        AND act.explanation->'source'->>'id' = d.crm_id
             WHEN 'missing_in_crm' THEN act.kind = 'create' AND act.explanation->'source'->>'system' = ${w.systems?.erp ?? null}
                                        AND act.explanation->'source'->>'id' = d.erp_id
             ELSE false
           END
     ORDER BY act.id, d.id
       FOR UPDATE OF act`.execute(db);
  const actions = new Map<string, { id: string; status: string; run: string; discrepancies: string[] }>();
  for (const r of rows) {
    const x = actions.get(r.action) ?? { id: r.action, status: r.status, run: r.run, discrepancies: [] };
    x.discrepancies.push(r.disc);
    actions.set(r.action, x);
  }
  const list = [...actions.values()];
  if (!list.length) return [];
  const stale = actionTransition('proposed', 'withdraw');
  await sql`
    WITH w AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(list)}::jsonb) AS x(id bigint, status text, run text, discrepancies jsonb)),
    upd AS (
      UPDATE control.actions act
         SET status = ${stale},
             error = ${SUPERSEDED_PREFIX} || w.run || ': discrepanc'
                     || CASE WHEN jsonb_array_length(w.discrepancies) = 1 THEN 'y ' ELSE 'ies ' END
                     || (SELECT string_agg(v, ', ') FROM jsonb_array_elements_text(w.discrepancies) v)
                     || ' accepted by ' || ${w.by}::text
        FROM w
       WHERE act.tenant_id = ${w.tenant} AND act.id = w.id
       RETURNING act.id, act.entity, act.kind, act.target_system, act.target_id, act.fields, w.status AS previous,
                 w.discrepancies)
    INSERT INTO control.audit (tenant_id, actor, action, subject, detail)
    SELECT ${w.tenant}, ${w.by}, ${'action.withdraw' satisfies AuditAction}, 'action:' || upd.id,
           jsonb_build_object('entity', upd.entity, 'kind', upd.kind, 'targetSystem', upd.target_system,
                              'targetId', upd.target_id, 'fields', upd.fields, 'discrepancies', upd.discrepancies,
                              'reason', ${w.reason}::text, 'previousStatus', upd.previous, 'newStatus', ${stale}::text)
      FROM upd`.execute(db);
  return list.map(({ id, discrepancies }) => ({ id, discrepancies }));
}

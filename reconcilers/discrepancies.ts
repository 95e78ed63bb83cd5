// Reading and accepting discrepancies (control.discrepancies) for reviewers. Accepting records who
// and why, and writes one audit row per discrepancy in the same transaction; an accepted
// discrepancy stays accepted while reconciliation keeps seeing it, becomes resolved when it goes
// away at the source, and opens again if it comes back (lifecycle.ts). Accepting also withdraws
// the undecided actions that would correct what was accepted, in the same transaction: a writer
// must not apply a correction a reviewer just said is not needed, whether or not a run examines
// the record again soon.
import type pg from 'pg';
import { inTransaction } from '../staging/database.js';
import type { Entity } from '../staging/model/entities.js';
import type { DiscrepancyStatus } from '../staging/tables/discrepancy.table.js';
import { lockForDecision } from './lifecycle.js';

export interface DiscrepancyView {
  id: string;
  entity: string;
  class: string;
  field: string;
  matchKey: string;
  crmValue: unknown;
  erpValue: unknown;
  currency: string | null;
  moneyImpact: string | null;
  material: boolean;
  status: DiscrepancyStatus;
  runsOpen: number;
  firstSeen: Date;
  lastSeen: Date;
  acceptedBy: string | null;
  acceptedReason: string | null;
}

export interface ListFilter {
  tenant: string;
  entity?: Entity;
  status?: DiscrepancyStatus;
  material?: boolean;
  ids?: readonly string[];
  limit?: number;
}

/** Discrepancies of a tenant, material and largest impact first. */
export async function listDiscrepancies(
  db: pg.Pool | pg.PoolClient,
  f: ListFilter,
): Promise<DiscrepancyView[]> {
  const { rows } = await db.query(
    `SELECT id::text, entity, class, field, match_key, crm_value, erp_value, currency::text, money_impact::text,
            material, status, runs_open, first_seen, last_seen, accepted_by, accepted_reason
       FROM control.discrepancies_now
      WHERE tenant_id = $1 AND ($2::text IS NULL OR entity = $2) AND ($3::text IS NULL OR status = $3)
        AND (NOT $4 OR material) AND ($6::bigint[] IS NULL OR id = ANY($6::bigint[]))
      ORDER BY material DESC, money_impact DESC NULLS LAST, entity, first_seen, id
      LIMIT $5`,
    [f.tenant, f.entity ?? null, f.status ?? null, f.material ?? false, f.limit ?? 1_000, f.ids ?? null],
  );
  return rows.map((r) => ({
    id: r.id,
    entity: r.entity,
    class: r.class,
    field: r.field,
    matchKey: r.match_key,
    crmValue: r.crm_value,
    erpValue: r.erp_value,
    currency: r.currency,
    moneyImpact: r.money_impact,
    material: r.material,
    status: r.status,
    runsOpen: r.runs_open,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    acceptedBy: r.accepted_by,
    acceptedReason: r.accepted_reason,
  }));
}

export class AcceptError extends Error {
  override name = 'AcceptError';
  readonly kind = 'terminal';
  constructor(
    message: string,
    readonly detail: { tenant: string; missing: string[]; resolved: string[] },
  ) {
    super(message);
  }
}

export interface AcceptInput {
  tenant: string;
  ids: readonly string[];
  by: string;
  reason: string;
  /**
   * The tenant's CRM and ERP system names (the roles of its systems): a create action names the
   * system and id of the record it copies, and the same id may exist in both systems.
   */
  systems: { crm: string; erp: string } | null;
}

export interface AcceptResult {
  accepted: DiscrepancyView[];
  /** Ids of the undecided actions withdrawn (now skipped_stale). */
  withdrawnActions: string[];
}

/**
 * Accepts discrepancies of a tenant by id: all or none. Unknown ids, or ones already resolved
 * (nothing left to accept), fail the whole call with an AcceptError naming them. The undecided
 * actions (proposed or approved) that concern the accepted discrepancies are withdrawn.
 */
export async function acceptDiscrepancies(pool: pg.Pool, a: AcceptInput): Promise<AcceptResult> {
  return inTransaction(pool, async (client) => {
    // Serialised with a run's write of the same entities (lockForDecision, lifecycle.ts).
    const found = await lockForDecision(client, 'discrepancies', a.tenant, a.ids);
    const missing = a.ids.filter((id) => !found.has(id));
    const resolved = a.ids.filter((id) => found.get(id) === 'resolved');
    if (missing.length || resolved.length)
      throw new AcceptError(
        `tenant ${a.tenant}: ${[
          missing.length ? `no discrepancy ${missing.join(', ')}` : '',
          resolved.length ? `already resolved: ${resolved.join(', ')}` : '',
        ]
          .filter(Boolean)
          .join('; ')} — nothing was accepted`,
        { tenant: a.tenant, missing, resolved },
      );
    const withdrawn = await withdrawActions(client, a);
    const byDiscrepancy = new Map<string, string[]>();
    for (const w of withdrawn)
      for (const d of w.discrepancies) byDiscrepancy.set(d, [...(byDiscrepancy.get(d) ?? []), w.id]);
    await client.query(
      `WITH acc AS (
         UPDATE control.discrepancies d SET status = 'accepted', accepted_by = $3, accepted_reason = $4
           FROM (SELECT id, status FROM control.discrepancies WHERE tenant_id = $1 AND id = ANY($2::bigint[])) prev
          WHERE d.tenant_id = $1 AND d.id = prev.id
          RETURNING d.id, d.entity, d.match_key, d.class, d.field, prev.status AS previous)
       INSERT INTO control.audit (tenant_id, actor, action, subject, detail)
       SELECT $1, $3, 'discrepancy.accept', 'discrepancy:' || acc.id,
              jsonb_build_object('entity', acc.entity, 'matchKey', acc.match_key, 'class', acc.class,
                                 'field', acc.field, 'reason', $4::text, 'previousStatus', acc.previous,
                                 'withdrawnActions', coalesce($5::jsonb -> acc.id::text, '[]'::jsonb))
         FROM acc`,
      [a.tenant, a.ids, a.by, a.reason, JSON.stringify(Object.fromEntries(byDiscrepancy))],
    );
    return {
      accepted: await listDiscrepancies(client, { tenant: a.tenant, ids: a.ids, limit: a.ids.length }),
      withdrawnActions: withdrawn.map((w) => w.id),
    };
  });
}

/**
 * Marks the undecided actions that concern the accepted discrepancies skipped_stale, as a run
 * does for an action it no longer proposes (lifecycle.ts), and audits each. An action concerns
 * a discrepancy of its tenant and entity when it would correct it: for a field mismatch, the
 * upsert of that pair (its explanation's match key) that sets the field — withdrawn whole, the
 * next run that examines the record proposes the other fields again on their own; for a record
 * missing on one side, the create that copies that record. Duplicate matches and deleted records
 * get no actions. Rejected, applied and failed actions are decisions and are never touched.
 *
 * The reason begins "superseded by run " like a run's, naming the run whose finding was accepted:
 * lifecycle.ts brings back only actions with that reason when a later run needs the same
 * correction again (the discrepancy resolved and came back, no longer accepted).
 */
async function withdrawActions(
  client: pg.PoolClient,
  a: AcceptInput,
): Promise<{ id: string; discrepancies: string[] }[]> {
  // Locks the actions (a writer deciding one at the same moment waits, or wins and is skipped).
  const { rows } = await client.query<{ action: string; status: string; disc: string; run: string }>(
    `SELECT act.id::text AS action, act.status, d.id::text AS disc, d.last_seen_run AS run
       FROM control.discrepancies_now d
       JOIN control.actions act ON act.tenant_id = d.tenant_id AND act.entity = d.entity
      WHERE d.tenant_id = $1 AND d.id = ANY($2::bigint[]) AND act.status IN ('proposed', 'approved')
        AND CASE d.class
              WHEN 'field_mismatch' THEN act.kind = 'upsert' AND act.explanation->>'matchKey' = d.match_key
                                         AND act.fields ? d.field
              WHEN 'missing_in_erp' THEN act.kind = 'create' AND act.explanation->'source'->>'system' = $3
                                         AND act.explanation->'source'->>'id' = d.crm_id
              WHEN 'missing_in_crm' THEN act.kind = 'create' AND act.explanation->'source'->>'system' = $4
                                         AND act.explanation->'source'->>'id' = d.erp_id
              ELSE false
            END
      ORDER BY act.id, d.id
        FOR UPDATE OF act`,
    [a.tenant, a.ids, a.systems?.crm ?? null, a.systems?.erp ?? null],
  );
  const actions = new Map<string, { id: string; status: string; run: string; discrepancies: string[] }>();
  for (const r of rows) {
    const x = actions.get(r.action) ?? { id: r.action, status: r.status, run: r.run, discrepancies: [] };
    x.discrepancies.push(r.disc);
    actions.set(r.action, x);
  }
  const list = [...actions.values()];
  if (!list.length) return [];
  await client.query(
    `WITH w AS (
       SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(id bigint, status text, run text, discrepancies jsonb)),
     upd AS (
       UPDATE control.actions act
          SET status = 'skipped_stale',
              error = 'superseded by run ' || w.run || ': discrepanc'
                      || CASE WHEN jsonb_array_length(w.discrepancies) = 1 THEN 'y ' ELSE 'ies ' END
                      || (SELECT string_agg(v, ', ') FROM jsonb_array_elements_text(w.discrepancies) v)
                      || ' accepted by ' || $3
         FROM w
        WHERE act.tenant_id = $1 AND act.id = w.id
        RETURNING act.id, act.entity, act.kind, act.target_system, act.target_id, act.fields, w.status AS previous,
                  w.discrepancies)
     INSERT INTO control.audit (tenant_id, actor, action, subject, detail)
     SELECT $1, $3, 'action.withdraw', 'action:' || upd.id,
            jsonb_build_object('entity', upd.entity, 'kind', upd.kind, 'targetSystem', upd.target_system,
                               'targetId', upd.target_id, 'fields', upd.fields, 'discrepancies', upd.discrepancies,
                               'reason', $4::text, 'previousStatus', upd.previous, 'newStatus', 'skipped_stale')
       FROM upd`,
    [a.tenant, JSON.stringify(list), a.by, a.reason],
  );
  return list.map(({ id, discrepancies }) => ({ id, discrepancies }));
}

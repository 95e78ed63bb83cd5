// control.discrepancies: what runs found, read by reviewers through control.discrepancies_now (the
// lifecycle fields of discrepancies carried forward are derived there, 0005_entity_runs.sql),
// accepted by reviewers, and written by a run's write. Classes, statuses and transitions:
// discrepancy-states.ts; docs/review.md and docs/reconcile.md tell the story.
import { sql } from 'kysely';
import type pg from 'pg';
import type { Db } from '../database.js';
import { assertTenantId, quoteLiteral } from '../identifiers.js';
import type { Entity } from '../model/entities.js';
import { TrueupError } from '../model/errors.js';
import { type RunWrite, withdrawActions } from './actions.js';
import type { AuditAction } from './audit.js';
import { clientDb } from './control-db.js';
import { rowsToPg } from './copy-rows.js';
import {
  type DiscrepancyClass,
  type DiscrepancyStatus,
  discrepancyStatusesAllowing,
  discrepancyTransition,
  LIVE_DISCREPANCY_STATUSES,
} from './discrepancy-states.js';
import { lockForDecision } from './entity-results-lock.js';
import { NEW, sqlList } from './transition-table.js';

const LIVE = sql.raw(sqlList(LIVE_DISCREPANCY_STATUSES));

export interface DiscrepancyView {
  id: string;
  entity: string;
  class: DiscrepancyClass;
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
  crmId: string | null;
  erpId: string | null;
  /** For a record missing on one side: unmatched records of the other side that look like it. */
  candidates: string[];
  /** The per-field explanation and what the run recorded (candidates, why no create, …). */
  detail: Record<string, unknown> | null;
}

export interface DiscrepancyFilter {
  tenant: string;
  entity?: Entity;
  status?: DiscrepancyStatus;
  material?: boolean;
  ids?: readonly string[];
  limit?: number;
}

/** Discrepancies of a tenant, material and largest impact first. */
export async function listDiscrepancies(db: Db, f: DiscrepancyFilter): Promise<DiscrepancyView[]> {
  const where = [sql`tenant_id = ${f.tenant}`];
  if (f.entity) where.push(sql`entity = ${f.entity}`);
  if (f.status) where.push(sql`status = ${f.status}`);
  if (f.material) where.push(sql`material`);
  if (f.ids) where.push(sql`id = ANY(${f.ids}::bigint[])`);
  const { rows } = await sql<{
    id: string;
    entity: string;
    class: DiscrepancyClass;
    field: string;
    match_key: string;
    crm_value: unknown;
    erp_value: unknown;
    currency: string | null;
    money_impact: string | null;
    material: boolean;
    status: DiscrepancyStatus;
    runs_open: number;
    first_seen: Date;
    last_seen: Date;
    accepted_by: string | null;
    accepted_reason: string | null;
    crm_id: string | null;
    erp_id: string | null;
    detail: Record<string, unknown> | null;
  }>`
    SELECT id::text, entity, class, field, match_key, crm_value, erp_value, currency::text, money_impact::text,
           material, status, runs_open, first_seen, last_seen, accepted_by, accepted_reason,
           crm_id, erp_id, detail
      FROM control.discrepancies_now
     WHERE ${sql.join(where, sql` AND `)}
     ORDER BY material DESC, money_impact DESC NULLS LAST, entity, first_seen, id
     LIMIT ${f.limit ?? 1_000}`.execute(db);
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
    crmId: r.crm_id,
    erpId: r.erp_id,
    candidates: Array.isArray(r.detail?.candidates) ? r.detail.candidates.map(String) : [],
    detail: r.detail,
  }));
}

export class AcceptError extends TrueupError {
  override name = 'AcceptError';
  constructor(
    message: string,
    readonly detail: { tenant: string; missing: string[]; resolved: string[] },
  ) {
    super(message, { kind: 'terminal', subject: { tenant: detail.tenant } });
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
 * Accepts discrepancies of a tenant by id, all or none: unknown ids, or ones the table does not
 * let a reviewer accept (resolved: nothing left to accept), fail with an AcceptError naming them.
 * Records who and why with one audit row each, and withdraws the undecided actions that would
 * correct them (actions.ts withdrawActions), in one transaction serialised with a run's write.
 */
export async function acceptDiscrepancies(db: Db, a: AcceptInput): Promise<AcceptResult> {
  const acceptable: readonly string[] = discrepancyStatusesAllowing('accept');
  return db.transaction().execute(async (trx) => {
    const found = await lockForDecision(trx, 'discrepancies', a.tenant, a.ids);
    const missing = a.ids.filter((id) => !found.has(id));
    const refused = a.ids.filter((id) => found.has(id) && !acceptable.includes(found.get(id)!));
    if (missing.length || refused.length)
      throw new AcceptError(
        `tenant ${a.tenant}: ${[
          missing.length ? `no discrepancy ${missing.join(', ')}` : '',
          refused.length ? `already resolved: ${refused.join(', ')}` : '',
        ]
          .filter(Boolean)
          .join('; ')} — nothing was accepted`,
        { tenant: a.tenant, missing, resolved: refused },
      );
    const withdrawn = await withdrawActions(trx, a);
    const byDiscrepancy = new Map<string, string[]>();
    for (const w of withdrawn)
      for (const d of w.discrepancies) byDiscrepancy.set(d, [...(byDiscrepancy.get(d) ?? []), w.id]);
    await sql`
      WITH acc AS (
        UPDATE control.discrepancies d
           SET status = ${discrepancyTransition('open', 'accept')}, accepted_by = ${a.by}, accepted_reason = ${a.reason}
          FROM (SELECT id, status FROM control.discrepancies
                 WHERE tenant_id = ${a.tenant} AND id = ANY(${a.ids}::bigint[])) prev
         WHERE d.tenant_id = ${a.tenant} AND d.id = prev.id
         RETURNING d.id, d.entity, d.match_key, d.class, d.field, prev.status AS previous)
      INSERT INTO control.audit (tenant_id, actor, action, subject, detail)
      SELECT ${a.tenant}, ${a.by}, ${'discrepancy.accept' satisfies AuditAction}, 'discrepancy:' || acc.id,
             jsonb_build_object('entity', acc.entity, 'matchKey', acc.match_key, 'class', acc.class,
                                'field', acc.field, 'reason', ${a.reason}::text, 'previousStatus', acc.previous,
                                'withdrawnActions',
                                coalesce(${JSON.stringify(Object.fromEntries(byDiscrepancy))}::jsonb -> acc.id::text, '[]'::jsonb))
        FROM acc`.execute(trx);
    return {
      accepted: await listDiscrepancies(trx, { tenant: a.tenant, ids: a.ids, limit: a.ids.length }),
      withdrawnActions: withdrawn.map((w) => w.id),
    };
  });
}

/** A discrepancy as a run found it, the row a run's write stores (the identity: class, matchKey, field). */
export interface DiscrepancyFinding {
  matchKey: string;
  class: DiscrepancyClass;
  field: string;
  crmId: string | null;
  erpId: string | null;
  crmValue: unknown;
  erpValue: unknown;
  currency: string | null;
  moneyImpact: string | null;
  material: boolean;
  detail: Record<string, unknown>;
}

/** A run's write of one tenant × entity, with the run's number there (runs.ts numberEntityRun). */
export interface NumberedRunWrite extends RunWrite {
  runNo: string;
}

const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

const FINDING_COLUMNS = `match_key text, class text, field text, crm_id text, erp_id text, crm_value jsonb,
  erp_value jsonb, currency text, money_impact numeric, material boolean, detail jsonb`;

/** `seen` as SQL over the stored row `d`: the status it moves to (discrepancy-states.ts). */
const SEEN_STATUS = sql.raw(
  `CASE d.status ${(['open', 'accepted', 'resolved'] as const)
    .map((s) => `WHEN ${quoteLiteral(s)} THEN ${quoteLiteral(discrepancyTransition(s, 'seen'))}`)
    .join(' ')} END`,
);

/**
 * Upserts what a run saw (event `seen`), inside the caller's transaction on `client` (the rows
 * arrive by COPY). A resolved discrepancy seen again opens anew (runs_open 1, first seen now); a
 * live one is open one more run for every run since it was last examined (carried forward), and
 * this one. Returns how many were new and the identities (discrepancyIdentity) of those accepted.
 */
export async function upsertSeen(
  client: pg.ClientBase,
  run: NumberedRunWrite,
  found: readonly DiscrepancyFinding[],
): Promise<{ inserted: number; accepted: Set<string> }> {
  await client.query(`CREATE TEMP TABLE trueup_disc (${FINDING_COLUMNS}) ON COMMIT DROP`);
  await rowsToPg(
    client,
    'trueup_disc (match_key, class, field, crm_id, erp_id, crm_value, erp_value, currency, money_impact, material, detail)',
    found.map((d) => [
      d.matchKey,
      d.class,
      d.field,
      d.crmId,
      d.erpId,
      json(d.crmValue),
      json(d.erpValue),
      d.currency,
      d.moneyImpact,
      d.material ? 't' : 'f',
      json(d.detail),
    ]),
  );
  const { rows } = await sql<{ inserted: boolean; accepted: string | null }>`
    INSERT INTO control.discrepancies AS d (tenant_id, entity, match_key, class, field, crm_id, erp_id, crm_value,
        erp_value, currency, money_impact, material, first_seen_run, last_seen_run, last_seen_no, detail, status)
    SELECT ${run.tenant}, ${run.entity}, x.match_key, x.class, x.field, x.crm_id, x.erp_id, x.crm_value, x.erp_value,
           x.currency, x.money_impact, x.material, ${run.runId}, ${run.runId}, ${run.runNo}, x.detail,
           ${discrepancyTransition(NEW, 'seen')}
      FROM trueup_disc x
    ON CONFLICT (tenant_id, entity, match_key, class, field) DO UPDATE SET
      crm_id = EXCLUDED.crm_id, erp_id = EXCLUDED.erp_id, crm_value = EXCLUDED.crm_value,
      erp_value = EXCLUDED.erp_value, currency = EXCLUDED.currency, money_impact = EXCLUDED.money_impact,
      material = EXCLUDED.material, detail = EXCLUDED.detail,
      -- Open through every run since it was last examined (carried forward), and this one.
      runs_open = CASE WHEN d.status = 'resolved' THEN 1
                       ELSE d.runs_open + greatest(0, EXCLUDED.last_seen_no - d.last_seen_no)::int END,
      last_seen_no = EXCLUDED.last_seen_no,
      first_seen_run = CASE WHEN d.status = 'resolved' THEN EXCLUDED.first_seen_run ELSE d.first_seen_run END,
      first_seen = CASE WHEN d.status = 'resolved' THEN now() ELSE d.first_seen END,
      status = ${SEEN_STATUS},
      last_seen_run = EXCLUDED.last_seen_run, last_seen = now(), resolved_at = NULL
    RETURNING (xmax = 0) AS inserted,
              CASE WHEN d.status = 'accepted' THEN d.class || '|' || d.match_key || '|' || d.field END AS accepted`.execute(
    clientDb(client),
  );
  return {
    inserted: rows.filter((r) => r.inserted).length,
    accepted: new Set(rows.flatMap((r) => (r.accepted ? [r.accepted] : []))),
  };
}

/**
 * Resolves the live discrepancies the run did not see (event `gone`): in a full run any of the
 * entity's; in an incremental run those among `examined` (the others concern records nothing
 * changed around; they still hold and are carried forward without a write). Writes down what
 * carrying forward implied: open through the run before this one. Returns how many.
 */
export async function resolveGone(
  db: Db,
  run: NumberedRunWrite,
  examined: readonly string[] | null,
): Promise<number> {
  const res = await sql`
    UPDATE control.discrepancies d SET status = ${discrepancyTransition('open', 'gone')}, resolved_at = now(),
        runs_open = d.runs_open + greatest(0, ${run.runNo}::bigint - 1 - d.last_seen_no)::int,
        last_seen_run = coalesce(p.run_id, d.last_seen_run), last_seen = coalesce(p.at, d.last_seen),
        last_seen_no = greatest(d.last_seen_no, ${run.runNo}::bigint - 1)
       FROM (SELECT 1) one
       LEFT JOIN control.entity_runs p
              ON p.tenant_id = ${run.tenant} AND p.entity = ${run.entity} AND p.run_no = ${run.runNo}::bigint - 1
      WHERE d.tenant_id = ${run.tenant} AND d.entity = ${run.entity} AND d.status IN ${LIVE}
        AND d.last_seen_run <> ${run.runId}
        AND (${examined}::bigint[] IS NULL OR d.id = ANY (${examined}::bigint[]))`.execute(db);
  return Number(res.numAffectedRows ?? 0n);
}

/**
 * Records discrepancies that in-flight confirmation found gone (event `gone_in_flight`) as
 * resolved, with the run that saw them go in `detail.resolvedInFlight`: a reviewer can tell a fix
 * that raced the run from one made at the source earlier.
 */
export async function recordGoneInFlight(
  db: Db,
  run: NumberedRunWrite,
  found: readonly DiscrepancyFinding[],
): Promise<void> {
  if (!found.length) return;
  const rows = found.map((d) => ({
    match_key: d.matchKey,
    class: d.class,
    field: d.field,
    crm_id: d.crmId,
    erp_id: d.erpId,
    crm_value: d.crmValue ?? null,
    erp_value: d.erpValue ?? null,
    currency: d.currency,
    money_impact: d.moneyImpact,
    material: d.material,
    detail: d.detail,
  }));
  const resolved = discrepancyTransition(NEW, 'gone_in_flight');
  await sql`
    INSERT INTO control.discrepancies AS d (tenant_id, entity, match_key, class, field, crm_id, erp_id, crm_value,
        erp_value, currency, money_impact, material, first_seen_run, last_seen_run, last_seen_no, detail, status,
        resolved_at)
    SELECT ${run.tenant}, ${run.entity}, x.match_key, x.class, x.field, x.crm_id, x.erp_id, x.crm_value, x.erp_value,
           x.currency, x.money_impact, x.material, ${run.runId}, ${run.runId}, ${run.runNo},
           coalesce(x.detail, '{}'::jsonb) || jsonb_build_object('resolvedInFlight', ${run.runId}::text), ${resolved},
           now()
      FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(match_key text, class text, field text,
           crm_id text, erp_id text, crm_value jsonb, erp_value jsonb, currency text, money_impact numeric,
           material boolean, detail jsonb)
    ON CONFLICT (tenant_id, entity, match_key, class, field) DO UPDATE SET
      status = ${resolved}, resolved_at = coalesce(d.resolved_at, now()),
      detail = coalesce(d.detail, '{}'::jsonb) || jsonb_build_object('resolvedInFlight', ${run.runId}::text)`.execute(
    db,
  );
}

/** The live discrepancies of a tenant × entity, counted per class and currency. */
export interface LiveCount {
  class: DiscrepancyClass;
  currency: string | null;
  n: number;
  material: number;
  accepted: number;
  acceptedMaterial: number;
  /** Sum of money impact (decimal string). */
  impact: string | null;
}

export async function liveCounts(db: Db, tenant: string, entity: string): Promise<LiveCount[]> {
  const { rows } = await sql<LiveCount>`
    SELECT class, currency::text, count(*)::int AS n, count(*) FILTER (WHERE material)::int AS material,
           count(*) FILTER (WHERE status = 'accepted')::int AS accepted,
           count(*) FILTER (WHERE status = 'accepted' AND material)::int AS "acceptedMaterial",
           sum(money_impact)::text AS impact
      FROM control.discrepancies
     WHERE tenant_id = ${tenant} AND entity = ${entity} AND status IN ${LIVE}
     GROUP BY class, currency`.execute(db);
  return rows;
}

/**
 * COPY query (COPY takes no parameters: the values are quoted literals) of the live discrepancies
 * of a tenant × entity that the run `runId` has not seen, with their records. Columns: 'd', id,
 * crm_id, erp_id.
 */
export function liveDiscrepancyRefsSql(q: { tenant: string; entity: string; runId: string }): string {
  const [tenant, entity, runId] = [assertTenantId(q.tenant), q.entity, q.runId].map(quoteLiteral);
  return `SELECT 'd', id, crm_id, erp_id FROM control.discrepancies
      WHERE tenant_id = ${tenant} AND entity = ${entity} AND status IN ${sqlList(LIVE_DISCREPANCY_STATUSES)}
        AND last_seen_run <> ${runId}`;
}

// Reads the discrepancies a report shows from control.discrepancies_now: those live (open or
// accepted) at a run — or now — of a tenant, entity by entity, each with its business date read
// from the staged records (ERP's, else CRM's), optionally limited to a close period.
//
// Live at run R of an entity: first seen no later than R wrote its results, and open or accepted
// still, or resolved by a later run. The timestamps compare exactly: a run's first_seen,
// resolved_at and control.entity_runs.at are all its results transaction's now(). For the latest
// run this is the view's live set; for an older run it is as far as the stored lifecycle tells (a
// discrepancy resolved and opened again since shows from its latest opening), with its status as
// reviewed now. runs_open counts the entity's runs from its first one to R.
import type pg from 'pg';
import { quoteIdent } from '../staging/identifiers.js';
import type { Entity } from '../staging/model/entities.js';
import type { ReportDiscrepancy } from './report-model.js';
import { BUSINESS_DATE, type ClosePeriod } from './report-period.js';

export type Queryable = Pick<pg.ClientBase, 'query'>;

export interface DiscrepancyScope {
  tenant: string;
  systems: { crm: string; erp: string };
  /** The run whose live discrepancies are read; null: the discrepancies live now. */
  runId: string | null;
  entities: readonly Entity[];
  period: ClosePeriod | null;
}

export type LoadedDiscrepancy = Omit<ReportDiscrepancy, 'golden' | 'actionId' | 'actionStatus'>;

/**
 * A business date field of the discrepancy's records, the ERP's, else the CRM's. Each side is a
 * scalar subquery on the staged table's primary key: as joins, a planner without statistics (a
 * new tenant, a test database) chose per-row scans of the whole (tenant, system) prefix and made
 * the read quadratic (40 s for 6,000 discrepancies); a subquery can only probe the key.
 */
function dateSql(entity: Entity, field: string | undefined, p: Slots): string {
  if (!field) return 'NULL::date';
  const probe = (system: string, id: string) =>
    `(SELECT x.${quoteIdent(field)} FROM staging.${quoteIdent(entity)} x
       WHERE x.tenant_id = d.tenant_id AND x.system = ${system} AND x.source_id = d.${id})`;
  return `coalesce(${probe(p.erp, 'erp_id')}, ${probe(p.crm, 'crm_id')})`;
}

/** `$n` placeholders after $1 tenant and $2 entity, each present only when the query uses it. */
interface Slots {
  crm: string;
  erp: string;
  run: string;
  start: string;
  end: string;
}

function entitySql(entity: Entity, scope: DiscrepancyScope, p: Slots): string {
  const def = BUSINESS_DATE[entity];
  const atRun = scope.runId !== null;
  // A date in [start, end); a span overlapping it; no date: every period.
  const inPeriod =
    !scope.period || !def
      ? 'true'
      : def?.to
        ? `(q.bd IS NULL OR q.bd < ${p.end}::date) AND (q.bd_end IS NULL OR q.bd_end >= ${p.start}::date)`
        : `(q.bd IS NULL OR (q.bd >= ${p.start}::date AND q.bd < ${p.end}::date))`;
  return `
    ${atRun ? `WITH er AS (SELECT at FROM control.entity_runs WHERE tenant_id = $1 AND entity = $2 AND run_id = ${p.run})` : ''}
    SELECT q.*, q.bd::text AS business_date FROM (
      SELECT d.id, d.class, d.field, d.match_key, d.crm_id, d.erp_id, d.crm_value, d.erp_value,
             d.currency::text AS currency, d.money_impact::text AS money_impact, d.material, d.first_seen,
             d.first_seen_run, d.accepted_by, d.accepted_reason, d.detail, d.runs_open,
             CASE WHEN d.status = 'resolved' THEN CASE WHEN d.accepted_by IS NOT NULL THEN 'accepted' ELSE 'open' END
                  ELSE d.status END AS status,
             ${dateSql(entity, def?.from, p)} AS bd,
             ${dateSql(entity, def?.to, p)} AS bd_end
        FROM control.discrepancies_now d ${atRun ? 'CROSS JOIN er' : ''}
       WHERE d.tenant_id = $1 AND d.entity = $2
         AND ${atRun ? `d.first_seen <= er.at AND (d.status IN ('open', 'accepted') OR d.resolved_at > er.at)` : `d.status IN ('open', 'accepted')`}
    ) q
     WHERE ${inPeriod}
     ORDER BY q.id`;
}

/** The entity's runs by id, numbered (few: one per run of the entity), and the reported run's number. */
async function runNumbers(
  db: Queryable,
  scope: DiscrepancyScope,
  entity: Entity,
): Promise<{ numbers: Map<string, number>; at: number | null }> {
  if (scope.runId === null) return { numbers: new Map(), at: null };
  const { rows } = await db.query<{ run_id: string; run_no: string }>(
    'SELECT run_id, run_no::text FROM control.entity_runs WHERE tenant_id = $1 AND entity = $2',
    [scope.tenant, entity],
  );
  const numbers = new Map(rows.map((r) => [r.run_id, Number(r.run_no)]));
  return { numbers, at: numbers.get(scope.runId) ?? null };
}

interface Row {
  id: string;
  class: string;
  field: string;
  match_key: string;
  crm_id: string | null;
  erp_id: string | null;
  crm_value: unknown;
  erp_value: unknown;
  currency: string | null;
  money_impact: string | null;
  material: boolean;
  first_seen: Date;
  first_seen_run: string;
  accepted_by: string | null;
  accepted_reason: string | null;
  detail: Record<string, unknown> | null;
  status: 'open' | 'accepted';
  runs_open: number;
  business_date: string | null;
}

/** The discrepancies of the scope, entity by entity (in the scope's order), each in id order. */
export async function loadDiscrepancies(
  db: Queryable,
  scope: DiscrepancyScope,
): Promise<LoadedDiscrepancy[]> {
  const out: LoadedDiscrepancy[] = [];
  for (const entity of scope.entities) {
    const params: unknown[] = [scope.tenant, entity];
    const slot = (v: unknown) => `$${params.push(v)}`;
    const dated = BUSINESS_DATE[entity] !== null;
    const slots: Slots = {
      crm: dated ? slot(scope.systems.crm) : '',
      erp: dated ? slot(scope.systems.erp) : '',
      run: scope.runId === null ? '' : slot(scope.runId),
      start: scope.period && dated ? slot(scope.period.start) : '',
      end: scope.period && dated ? slot(scope.period.end) : '',
    };
    const { rows } = await db.query<Row>(entitySql(entity, scope, slots), params);
    // runs_open at the run: the entity's runs from the discrepancy's first one to the run.
    const runs = await runNumbers(db, scope, entity);
    for (const r of rows) {
      const first = runs.numbers.get(r.first_seen_run);
      const runsOpen = runs.at !== null && first !== undefined ? runs.at - first + 1 : Number(r.runs_open);
      const candidates = r.detail?.candidates;
      out.push({
        id: String(r.id),
        entity,
        class: r.class,
        field: r.field,
        matchKey: r.match_key,
        crmId: r.crm_id,
        erpId: r.erp_id,
        crmValue: r.crm_value,
        erpValue: r.erp_value,
        currency: r.currency === null ? null : r.currency.trim(),
        moneyImpact: r.money_impact,
        material: r.material,
        businessDate: r.business_date,
        firstSeen: r.first_seen,
        firstSeenRun: r.first_seen_run,
        runsOpen,
        status: r.status,
        acceptedBy: r.accepted_by,
        acceptedReason: r.accepted_reason,
        candidates: Array.isArray(candidates) ? candidates.map(String) : [],
      });
    }
  }
  return out;
}

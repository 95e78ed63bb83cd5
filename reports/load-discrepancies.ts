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

/** The business date expressions of an entity over its CRM row `c` and ERP row `e`. */
function businessDateSql(entity: Entity): { from: string; to: string } {
  const def = BUSINESS_DATE[entity];
  if (!def) return { from: 'NULL::date', to: 'NULL::date' };
  const col = (f: string) => `coalesce(e.${quoteIdent(f)}, c.${quoteIdent(f)})`;
  return { from: col(def.from), to: def.to ? col(def.to) : 'NULL::date' };
}

/** `$n` placeholders: $1 tenant, $2 entity, $3 CRM system, $4 ERP system, then run and period when given. */
interface Slots {
  run: string;
  start: string;
  end: string;
}

function entitySql(entity: Entity, scope: DiscrepancyScope, p: Slots): string {
  const table = `staging.${quoteIdent(entity)}`;
  const bd = businessDateSql(entity);
  const atRun = scope.runId !== null;
  // A date in [start, end); a span overlapping it; no date: every period.
  const inPeriod = !scope.period
    ? 'true'
    : BUSINESS_DATE[entity]?.to
      ? `((${bd.from}) IS NULL OR (${bd.from}) < ${p.end}::date) AND ((${bd.to}) IS NULL OR (${bd.to}) >= ${p.start}::date)`
      : `((${bd.from}) IS NULL OR ((${bd.from}) >= ${p.start}::date AND (${bd.from}) < ${p.end}::date))`;
  return `
    ${atRun ? `WITH er AS (SELECT run_no, at FROM control.entity_runs WHERE tenant_id = $1 AND entity = $2 AND run_id = ${p.run})` : ''}
    SELECT d.id::text, d.class, d.field, d.match_key, d.crm_id, d.erp_id, d.crm_value, d.erp_value,
           d.currency::text AS currency, d.money_impact::text AS money_impact, d.material, d.first_seen,
           d.first_seen_run, d.accepted_by, d.accepted_reason, d.detail,
           CASE WHEN d.status = 'resolved' THEN CASE WHEN d.accepted_by IS NOT NULL THEN 'accepted' ELSE 'open' END
                ELSE d.status END AS status,
           ${atRun ? 'coalesce(er.run_no - f.run_no + 1, d.runs_open)' : 'd.runs_open'} AS runs_open,
           (${bd.from})::text AS business_date
      FROM control.discrepancies_now d
      ${
        atRun
          ? `CROSS JOIN er
      LEFT JOIN control.entity_runs f ON f.tenant_id = d.tenant_id AND f.entity = d.entity AND f.run_id = d.first_seen_run`
          : ''
      }
      LEFT JOIN ${table} c ON c.tenant_id = d.tenant_id AND c.system = $3 AND c.source_id = d.crm_id
      LEFT JOIN ${table} e ON e.tenant_id = d.tenant_id AND e.system = $4 AND e.source_id = d.erp_id
     WHERE d.tenant_id = $1 AND d.entity = $2
       AND ${atRun ? `d.first_seen <= er.at AND (d.status IN ('open', 'accepted') OR d.resolved_at > er.at)` : `d.status IN ('open', 'accepted')`}
       AND ${inPeriod}
     ORDER BY d.id`;
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
    const params: unknown[] = [scope.tenant, entity, scope.systems.crm, scope.systems.erp];
    const slot = (v: unknown) => `$${params.push(v)}`;
    const run = scope.runId === null ? '' : slot(scope.runId);
    const start = scope.period ? slot(scope.period.start) : '';
    const end = scope.period ? slot(scope.period.end) : '';
    const { rows } = await db.query<Row>(entitySql(entity, scope, { run, start, end }), params);
    for (const r of rows) {
      const candidates = r.detail?.candidates;
      out.push({
        id: r.id,
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
        runsOpen: Number(r.runs_open),
        status: r.status,
        acceptedBy: r.accepted_by,
        acceptedReason: r.accepted_reason,
        candidates: Array.isArray(candidates) ? candidates.map(String) : [],
      });
    }
  }
  return out;
}

// What the demo reports per tenant: discrepancies by class in the first pass, actions applied,
// and what stays actionable after the second pass (overall, and for the keys the applied actions
// corrected — the demo's success criterion), with the table the demo prints at the end.
import type pg from 'pg';
import {
  CLASS_COLUMN,
  DISCREPANCY_CLASSES,
  type DiscrepancyClass,
} from '../../staging/control/discrepancy-states.js';
import { formatTable } from '../cli/format-table.js';

/** Classes a correction addresses (duplicates and one-sided deletes are left to a person). */
export const ACTIONABLE_CLASSES = ['field_mismatch', 'missing_in_erp', 'missing_in_crm'] as const;

export interface TenantOutcome {
  tenant: string;
  currency: string;
  /** Open discrepancies by class after the first pass. */
  firstPass: Partial<Record<DiscrepancyClass, number>>;
  /** Actions the first pass planned (auto-approved by policy). */
  approved: number;
  applied: number;
  /** Applied, failed and skipped as stale (a record changed since the run), per the apply's report. */
  failed: number;
  skippedStale: number;
  /** Open actionable discrepancies after the second pass: all, and those of the corrected keys. */
  actionableAfter: number;
  correctedStillOpen: string[];
  /** The HTML reports of the first and second pass. */
  reports: string[];
  /** Why the tenant's loop did not finish (a step failed); the other tenants go on. */
  error?: string;
}

/** The outcome of a tenant whose loop failed at a step. */
export const failedOutcome = (tenant: string, currency: string, error: string): TenantOutcome => ({
  tenant,
  currency,
  firstPass: {},
  approved: 0,
  applied: 0,
  failed: 0,
  skippedStale: 0,
  actionableAfter: 0,
  correctedStillOpen: [],
  reports: [],
  error,
});

export const outcomeOk = (o: TenantOutcome) =>
  o.error === undefined && o.applied > 0 && o.correctedStillOpen.length === 0;

/** The match keys the applied actions corrected (a pair, or the record a create copied). */
export async function appliedKeys(
  pool: pg.Pool,
  tenant: string,
  systems: { crm: string; erp: string },
): Promise<string[]> {
  const { rows } = await pool.query<{
    kind: string;
    target_system: string;
    explanation: Record<string, unknown>;
  }>(
    `SELECT kind, target_system, explanation FROM control.actions WHERE tenant_id = $1 AND status = 'applied'`,
    [tenant],
  );
  return rows.map((r) => {
    if (r.kind === 'upsert') return String(r.explanation.matchKey);
    const source = r.explanation.source as { id: string };
    return r.target_system === systems.crm ? `E:${source.id}` : `C:${source.id}`;
  });
}

/** Open actionable discrepancies as `class key field`, only of `keys` when given. */
export async function openActionable(
  pool: pg.Pool,
  tenant: string,
  keys?: readonly string[],
): Promise<string[]> {
  const { rows } = await pool.query<{ k: string }>(
    `SELECT class || ' ' || match_key || ' ' || field AS k FROM control.discrepancies_now
      WHERE tenant_id = $1 AND status = 'open' AND class = ANY($2::text[])
        AND ($3::text[] IS NULL OR match_key = ANY($3::text[])) ORDER BY 1`,
    [tenant, [...ACTIONABLE_CLASSES], keys ?? null],
  );
  return rows.map((r) => r.k);
}

/** The per-tenant table: first pass by class, actions, what is left actionable. */
export function summaryTable(outcomes: readonly TenantOutcome[]): string {
  const rows = outcomes.map((o) => [
    o.tenant,
    o.currency,
    ...DISCREPANCY_CLASSES.map((c) => String(o.firstPass[c] ?? 0)),
    String(o.approved),
    String(o.applied),
    String(o.skippedStale + o.failed),
    String(o.actionableAfter),
    o.error !== undefined ? 'FAILED' : outcomeOk(o) ? 'ok' : 'NOT RESOLVED',
  ]);
  return formatTable(
    [
      'tenant',
      'cur',
      ...DISCREPANCY_CLASSES.map((c) => CLASS_COLUMN[c]),
      'approved',
      'applied',
      'not applied',
      'actionable after',
      'result',
    ],
    rows,
  );
}

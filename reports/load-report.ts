// Everything one report shows, read from the control tables in one pass: the run, the
// discrepancies live at it (optionally those of a close period) with their corrections, the
// actions, the trend of the tenant's runs and, for a close pack, its close section. The reads
// share one snapshot (a read-only repeatable-read transaction), so a run writing its results
// meanwhile cannot leave the discrepancies and their actions from two different moments, and
// run in the tenant's scope (docs/security.md): Postgres admits only that tenant's rows.
import type pg from 'pg';
import { enterTenantScope } from '../staging/tenant-scope.js';

import { loadCloseSection } from './close-period.js';
import { linkActions } from './load-actions.js';
import type { Queryable } from './load-discrepancies.js';
import { loadDiscrepancies } from './load-discrepancies.js';
import { loadRun, loadTrend, runEntities } from './load-run.js';
import type { ReportData } from './report-model.js';
import type { ClosePeriod } from './report-period.js';

export interface ReportScope {
  tenant: string;
  runId: string;
  /** The tenant's CRM and ERP system names (the systems with role crm and erp). */
  systems: { crm: string; erp: string };
  /** A close pack: records whose business date is in the period. */
  period?: ClosePeriod | null;
  now?: Date;
}

export async function loadReportData(db: Queryable, scope: ReportScope): Promise<ReportData> {
  const run = await loadRun(db, scope.tenant, scope.runId);
  const entities = runEntities(run);
  const found = await loadDiscrepancies(db, {
    tenant: scope.tenant,
    systems: scope.systems,
    runId: run.runId,
    entities,
    period: scope.period ?? null,
  });
  const { discrepancies, actions } = await linkActions(
    db,
    { tenant: scope.tenant, systems: scope.systems, entities },
    found,
  );
  const trend = await loadTrend(db, scope.tenant, { until: run.startedAt });
  const close = scope.period
    ? await loadCloseSection(
        db,
        { tenant: scope.tenant, systems: scope.systems, period: scope.period, run },
        discrepancies,
      )
    : null;
  return {
    tenant: scope.tenant,
    generatedAt: scope.now ?? new Date(),
    run,
    discrepancies,
    actions,
    trend,
    close,
  };
}

/**
 * `fn` over one client in a read-only repeatable-read transaction in `tenant`'s scope: every query
 * sees one snapshot, and only that tenant's rows.
 */
export async function inSnapshot<T>(
  pool: pg.Pool,
  tenant: string,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await enterTenantScope(client, tenant);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

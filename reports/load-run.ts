// A tenant's reconcile runs as reports need them: one run (its summary, the entities it
// reconciled), the latest run, and the trend of the runs up to one (counts from their summaries).
import { ENTITIES, type Entity, isEntity } from '../staging/model/entities.js';
import { TrueupError } from '../staging/model/errors.js';
import type { Queryable } from './load-discrepancies.js';
import type { ReportRun, TrendPoint } from './report-model.js';

export class ReportError extends TrueupError {
  override name = 'ReportError';
}

interface RunRow {
  run_id: string;
  status: string;
  mode: string | null;
  started_at: Date;
  finished_at: Date | null;
  error: string | null;
  summary: Record<string, unknown> | null;
}

/** One reconcile run of a tenant, or a ReportError naming tenant and run. */
export async function loadRun(db: Queryable, tenant: string, runId: string): Promise<ReportRun> {
  const { rows } = await db.query<RunRow>(
    `SELECT run_id, status, mode, started_at, finished_at, error, summary
       FROM control.runs WHERE tenant_id = $1 AND run_id = $2 AND kind = 'reconcile'`,
    [tenant, runId],
  );
  const r = rows[0];
  if (!r) throw new ReportError(`tenant ${tenant} has no reconcile run ${runId}`, { subject: { tenant } });
  const entities = await db.query<{ entity: string; at: Date }>(
    'SELECT entity, at FROM control.entity_runs WHERE tenant_id = $1 AND run_id = $2',
    [tenant, runId],
  );
  const at = new Map(entities.rows.map((e) => [e.entity, e.at]));
  return {
    runId: r.run_id,
    status: r.status,
    mode: r.mode,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    error: r.error,
    summary: r.summary,
    // In the canonical order, so files and sheets come in the same order every time.
    entities: ENTITIES.filter((e) => at.has(e)).map((e) => ({ entity: e, at: at.get(e)! })),
  };
}

/** The id of the tenant's latest reconcile run that finished (succeeded or failed), or null. */
export async function latestRunId(db: Queryable, tenant: string): Promise<string | null> {
  const { rows } = await db.query<{ run_id: string }>(
    `SELECT run_id FROM control.runs
      WHERE tenant_id = $1 AND kind = 'reconcile' AND status <> 'running'
      ORDER BY started_at DESC, run_id DESC LIMIT 1`,
    [tenant],
  );
  return rows[0]?.run_id ?? null;
}

const count = (totals: unknown, key: string): number => {
  const v = (totals as Record<string, unknown> | undefined)?.[key];
  return typeof v === 'number' ? v : 0;
};

/** The tenant's last `limit` finished reconcile runs up to `until` (and from `since`), oldest first. */
export async function loadTrend(
  db: Queryable,
  tenant: string,
  opts: { until?: Date; since?: Date; limit?: number } = {},
): Promise<TrendPoint[]> {
  const { rows } = await db.query<{ run_id: string; started_at: Date; totals: unknown }>(
    `SELECT run_id, started_at, summary->'totals' AS totals FROM control.runs
      WHERE tenant_id = $1 AND kind = 'reconcile' AND status <> 'running'
        AND ($2::timestamptz IS NULL OR started_at <= $2) AND ($3::timestamptz IS NULL OR started_at >= $3)
      ORDER BY started_at DESC, run_id DESC LIMIT $4`,
    [tenant, opts.until ?? null, opts.since ?? null, opts.limit ?? 30],
  );
  return rows.reverse().map((r) => ({
    runId: r.run_id,
    startedAt: r.started_at,
    discrepancies: count(r.totals, 'discrepancies'),
    material: count(r.totals, 'material'),
    accepted: count(r.totals, 'accepted'),
  }));
}

/** Records compared by a run: the records of both sides in its mirrors (from its summary). */
export function recordsCompared(run: ReportRun): number | null {
  const entities = run.summary?.entities;
  if (!Array.isArray(entities)) return null;
  let n = 0;
  for (const e of entities) {
    const rows = (e as { mirror?: { rows?: unknown } })?.mirror?.rows;
    if (typeof rows === 'number') n += rows;
  }
  return n;
}

export function runEntities(run: ReportRun): Entity[] {
  return run.entities.map((e) => e.entity).filter(isEntity);
}

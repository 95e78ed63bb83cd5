// What `serve` reads from the staging database for /metrics and the JSON API: one exported
// function per query, values always $n parameters, identifiers only from trueup's own entity list.
// Discrepancies and actions are listed by the control modules (staging/control/); the rest —
// figures across every tenant, and the run history — is read here. The figures are the one
// cross-tenant view (/metrics, read as the owner); a tenant's runs are read on its scoped pool.
import type pg from 'pg';
import { quoteQualified } from '../../staging/identifiers.js';
import { ENTITIES } from '../../staging/model/entities.js';

export interface Figures {
  stagingRows: { tenant: string; system: string; entity: string; rows: number }[];
  deadLetters: { tenant: string; system: string; entity: string; open: number }[];
  streams: {
    tenant: string;
    system: string;
    stream: string;
    state: string;
    rowsTotal: number;
    ageSeconds: number;
  }[];
  runs: { tenant: string; kind: string; status: string; count: number }[];
  lastRuns: {
    tenant: string;
    kind: string;
    status: string;
    durationSeconds: number | null;
    finishedAt: number | null;
    lastSuccessAt: number | null;
  }[];
  discrepancies: { tenant: string; entity: string; open: number; material: number }[];
  actions: { tenant: string; status: string; count: number }[];
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/** Rows held per tenant × system × entity (tombstones excluded), one index scan per entity table. */
export async function stagingRowCounts(q: pg.Pool): Promise<Figures['stagingRows']> {
  const parts = ENTITIES.map(
    (e, i) =>
      `SELECT tenant_id, system, $${i + 1}::text AS entity, count(*) FILTER (WHERE deleted_at IS NULL) AS n FROM ${quoteQualified('staging', e)} GROUP BY 1, 2`,
  );
  const { rows } = await q.query<{ tenant_id: string; system: string; entity: string; n: string }>(
    parts.join(' UNION ALL '),
    [...ENTITIES],
  );
  return rows.map((r) => ({ tenant: r.tenant_id, system: r.system, entity: r.entity, rows: Number(r.n) }));
}

export async function readFigures(q: pg.Pool): Promise<Figures> {
  const [stagingRows, dead, streams, runs, last, disc, actions] = await Promise.all([
    stagingRowCounts(q),
    q.query(
      `SELECT tenant_id, system, entity, count(*) AS n FROM control.dead_letters WHERE status = 'open' GROUP BY 1, 2, 3`,
    ),
    q.query(
      `SELECT tenant_id, system, stream, state, rows_total, extract(epoch FROM now() - updated_at) AS age
         FROM control.checkpoints`,
    ),
    q.query(`SELECT tenant_id, kind, status, count(*) AS n FROM control.runs GROUP BY 1, 2, 3`),
    q.query(
      `SELECT l.tenant_id, l.kind, l.status, extract(epoch FROM l.finished_at - l.started_at) AS secs,
              extract(epoch FROM l.finished_at) AS finished,
              (SELECT extract(epoch FROM max(s.finished_at)) FROM control.runs s
                WHERE s.tenant_id = l.tenant_id AND s.kind = l.kind AND s.status = 'succeeded') AS success
         FROM (SELECT DISTINCT ON (tenant_id, kind) * FROM control.runs WHERE finished_at IS NOT NULL
                ORDER BY tenant_id, kind, finished_at DESC) l`,
    ),
    q.query(
      `SELECT tenant_id, entity, count(*) FILTER (WHERE status = 'open') AS open,
              count(*) FILTER (WHERE status = 'open' AND material) AS material
         FROM control.discrepancies GROUP BY 1, 2`,
    ),
    q.query(`SELECT tenant_id, status, count(*) AS n FROM control.actions GROUP BY 1, 2`),
  ]);
  return {
    stagingRows,
    deadLetters: dead.rows.map((r) => ({
      tenant: r.tenant_id,
      system: r.system,
      entity: r.entity,
      open: Number(r.n),
    })),
    streams: streams.rows.map((r) => ({
      tenant: r.tenant_id,
      system: r.system,
      stream: r.stream,
      state: r.state,
      rowsTotal: Number(r.rows_total),
      ageSeconds: Math.max(0, Number(r.age)),
    })),
    runs: runs.rows.map((r) => ({ tenant: r.tenant_id, kind: r.kind, status: r.status, count: Number(r.n) })),
    lastRuns: last.rows.map((r) => ({
      tenant: r.tenant_id,
      kind: r.kind,
      status: r.status,
      durationSeconds: num(r.secs),
      finishedAt: num(r.finished),
      lastSuccessAt: num(r.success),
    })),
    discrepancies: disc.rows.map((r) => ({
      tenant: r.tenant_id,
      entity: r.entity,
      open: Number(r.open),
      material: Number(r.material),
    })),
    actions: actions.rows.map((r) => ({ tenant: r.tenant_id, status: r.status, count: Number(r.n) })),
  };
}

export interface RunView {
  runId: string;
  kind: string;
  mode: string | null;
  status: string;
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
  totals: unknown;
}

/** A tenant's runs, newest first. `q`: the tenant's scoped pool (tenantStaging), as the API passes it. */
export async function listRuns(q: pg.Pool, tenant: string, limit: number): Promise<RunView[]> {
  const { rows } = await q.query(
    `SELECT run_id, kind, mode, status, started_at, finished_at, error, summary->'totals' AS totals
       FROM control.runs WHERE tenant_id = $1 ORDER BY started_at DESC, run_id DESC LIMIT $2`,
    [tenant, limit],
  );
  return rows.map((r) => ({
    runId: r.run_id,
    kind: r.kind,
    mode: r.mode,
    status: r.status,
    startedAt: new Date(r.started_at).toISOString(),
    finishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : null,
    error: r.error,
    totals: r.totals ?? null,
  }));
}

/** Migrations this trueup knows that the database has not applied (empty: current). */
export async function pendingMigrations(
  q: pg.Pool,
  known: readonly { id: number; name: string }[],
): Promise<string[]> {
  const { rows } = await q.query<{ present: boolean }>(
    `SELECT to_regclass('trueup_meta.migrations') IS NOT NULL AS present`,
  );
  if (!rows[0]?.present) return known.map((m) => m.name);
  const done = await q.query<{ id: number }>('SELECT id FROM trueup_meta.migrations');
  const applied = new Set(done.rows.map((r) => r.id));
  return known.filter((m) => !applied.has(m.id)).map((m) => m.name);
}

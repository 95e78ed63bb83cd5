// The cross-tenant overview for data teams (`trueup report --all-tenants`): per tenant the state
// of its sources (each stream's state and how long since its last checkpoint, open dead letters),
// its last reconcile run, its open and material discrepancies and money at stake now, the trend
// of its runs, and a link to its latest report. Written as overview.html (no script at all) and
// overview.json into <dataDir>/overview/.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { sparkline } from './charts.js';
import { contentSecurityPolicy, escapeHtml as h } from './html-escape.js';
import { REPORT_CSS } from './html-style.js';
import type { Queryable } from './load-discrepancies.js';
import { loadTrend } from './load-run.js';
import { privateDir, writePrivateText } from './report-files.js';
import type { TrendPoint } from './report-model.js';

export interface TenantOverview {
  tenant: string;
  sources: {
    system: string;
    stream: string;
    state: string;
    detail: string | null;
    updatedAt: string;
    lagSeconds: number;
  }[];
  deadLetters: { system: string; entity: string; count: number }[];
  lastRun: {
    runId: string;
    status: string;
    startedAt: string;
    finishedAt: string | null;
    error: string | null;
  } | null;
  live: { discrepancies: number; open: number; accepted: number; material: number; openMaterial: number };
  moneyAtStake: Record<string, string>;
  trend: TrendPoint[];
  /** The latest run's report.html, relative to the overview folder, when it exists. */
  report: string | null;
}

export async function loadTenantOverview(
  db: Queryable,
  tenant: string,
  opts: { dataDir: string; since?: Date; now: Date },
): Promise<TenantOverview> {
  const cps = await db.query<{
    system: string;
    stream: string;
    state: string;
    detail: string | null;
    updated_at: Date;
  }>(
    'SELECT system, stream, state, detail, updated_at FROM control.checkpoints WHERE tenant_id = $1 ORDER BY system, stream',
    [tenant],
  );
  const dead = await db.query<{ system: string; entity: string; n: number }>(
    `SELECT system, entity, count(*)::int AS n FROM control.dead_letters
      WHERE tenant_id = $1 AND status = 'open' GROUP BY system, entity ORDER BY system, entity`,
    [tenant],
  );
  const runs = await db.query<{
    run_id: string;
    status: string;
    started_at: Date;
    finished_at: Date | null;
    error: string | null;
  }>(
    `SELECT run_id, status, started_at, finished_at, error FROM control.runs
      WHERE tenant_id = $1 AND kind = 'reconcile' ORDER BY started_at DESC, run_id DESC LIMIT 1`,
    [tenant],
  );
  const live = await db.query<{ n: number; a: number; m: number; om: number }>(
    `SELECT count(*)::int AS n, count(*) FILTER (WHERE status = 'accepted')::int AS a,
            count(*) FILTER (WHERE material)::int AS m, count(*) FILTER (WHERE material AND status = 'open')::int AS om
       FROM control.discrepancies WHERE tenant_id = $1 AND status IN ('open', 'accepted')`,
    [tenant],
  );
  const money = await db.query<{ currency: string; total: string }>(
    `SELECT trim(currency) AS currency, sum(money_impact)::text AS total FROM control.discrepancies
      WHERE tenant_id = $1 AND status IN ('open', 'accepted') AND currency IS NOT NULL AND money_impact IS NOT NULL
      GROUP BY 1 ORDER BY 1`,
    [tenant],
  );
  const last = runs.rows[0];
  let report: string | null = null;
  if (last) {
    const rel = join('..', 'runs', tenant, last.run_id, 'report.html');
    try {
      await access(join(opts.dataDir, 'runs', tenant, last.run_id, 'report.html'));
      report = rel;
    } catch {
      report = null;
    }
  }
  const l = live.rows[0] ?? { n: 0, a: 0, m: 0, om: 0 };
  return {
    tenant,
    sources: cps.rows.map((c) => ({
      system: c.system,
      stream: c.stream,
      state: c.state,
      detail: c.detail,
      updatedAt: c.updated_at.toISOString(),
      lagSeconds: Math.max(0, Math.round((opts.now.getTime() - c.updated_at.getTime()) / 1000)),
    })),
    deadLetters: dead.rows.map((d) => ({ system: d.system, entity: d.entity, count: d.n })),
    lastRun: last
      ? {
          runId: last.run_id,
          status: last.status,
          startedAt: last.started_at.toISOString(),
          finishedAt: last.finished_at?.toISOString() ?? null,
          error: last.error,
        }
      : null,
    live: { discrepancies: l.n, open: l.n - l.a, accepted: l.a, material: l.m, openMaterial: l.om },
    moneyAtStake: Object.fromEntries(money.rows.map((m) => [m.currency, m.total])),
    trend: await loadTrend(db, tenant, { ...(opts.since ? { since: opts.since } : {}), limit: 30 }),
    report,
  };
}

function lag(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

export function renderOverviewHtml(rows: readonly TenantOverview[], now: Date, since: Date | null): string {
  const body = rows
    .map((t) => {
      const sources = t.sources.length
        ? t.sources
            .map((s) => `${h(s.system)}/${h(s.stream)}: ${h(s.state)}, ${h(lag(s.lagSeconds))} ago`)
            .join('<br>')
        : 'no checkpoint';
      const dead = t.deadLetters.reduce((n, d) => n + d.count, 0);
      const run = t.lastRun
        ? `${h(t.lastRun.runId)}<br>${h(t.lastRun.status)}${t.lastRun.error ? `: ${h(t.lastRun.error)}` : ''}`
        : 'never reconciled';
      const money = Object.entries(t.moneyAtStake)
        .map(([c, v]) => `${h(v)} ${h(c)}`)
        .join('<br>');
      return `<tr data-tenant="${h(t.tenant)}"><td>${h(t.tenant)}</td><td>${sources}</td><td class="num">${dead}</td><td>${run}</td><td class="num">${
        t.live.open
      }</td><td class="num">${t.live.openMaterial}</td><td class="num">${t.live.accepted}</td><td class="num">${money || '—'}</td><td>${
        t.trend.length > 1 ? sparkline(t.trend.map((p) => p.discrepancies)) : '—'
      }</td><td>${t.report ? `<a href="${h(t.report.split('/').map(encodeURIComponent).join('/'))}">report</a>` : '—'}</td></tr>`;
    })
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${h(contentSecurityPolicy([]))}">
<meta name="referrer" content="no-referrer">
<title>trueup overview</title><style>${REPORT_CSS}</style></head>
<body><header><h1>trueup overview</h1><p class="meta">${rows.length} tenant${rows.length === 1 ? '' : 's'}, made ${h(
    now.toISOString(),
  )}${since ? `; trend of runs since ${h(since.toISOString())}` : ''}.</p></header>
<table id="overview"><thead><tr><th>tenant</th><th>sources (state, since last checkpoint)</th><th class="num">open dead letters</th><th>last run</th><th class="num">open</th><th class="num">material open</th><th class="num">accepted</th><th class="num">money at stake</th><th>trend</th><th>latest report</th></tr></thead>
<tbody>${body}</tbody></table>
<footer>Amounts are in their own currency and never converted.</footer>
</body></html>
`;
}

export async function writeOverview(
  db: Queryable,
  opts: { dataDir: string; tenants: readonly string[]; since?: Date; now?: Date },
): Promise<{ dir: string; files: string[]; tenants: TenantOverview[] }> {
  const now = opts.now ?? new Date();
  const tenants: TenantOverview[] = [];
  for (const tenant of opts.tenants)
    tenants.push(
      await loadTenantOverview(db, tenant, {
        dataDir: opts.dataDir,
        now,
        ...(opts.since ? { since: opts.since } : {}),
      }),
    );
  const dir = join(opts.dataDir, 'overview');
  await privateDir(dir);
  const html = join(dir, 'overview.html');
  const json = join(dir, 'overview.json');
  await writePrivateText(html, renderOverviewHtml(tenants, now, opts.since ?? null));
  await writePrivateText(
    json,
    `${JSON.stringify({ generatedAt: now.toISOString(), since: opts.since?.toISOString() ?? null, tenants }, null, 2)}\n`,
  );
  return { dir, files: [html, json], tenants };
}

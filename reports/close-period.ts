// The parts of a close pack beyond the period's discrepancies: the period's sign-offs and what
// appeared after the latest one, what changed since the previous pack of the period (the pack of
// the latest earlier run: appeared, gone, changed status, impact or values), and how many
// records the period holds. Each pack records what it showed (control.period_reports) for the next.
import { createHash } from 'node:crypto';
import { quoteIdent } from '../staging/identifiers.js';
import { ENTITIES, type Entity } from '../staging/model/entities.js';
import type { Queryable } from './load-discrepancies.js';
import type { CloseSection, PeriodChanges, ReportDiscrepancy, ReportRun, Signoff } from './report-model.js';
import { BUSINESS_DATE, type ClosePeriod } from './report-period.js';

/** What a pack showed of one discrepancy: status, money impact, material, a hash of its two values. */
type Shown = [string, string | null, boolean, string];

function shownOf(d: ReportDiscrepancy): Shown {
  const values = createHash('sha256')
    .update(JSON.stringify([d.crmValue ?? null, d.erpValue ?? null]))
    .digest('hex')
    .slice(0, 16);
  return [d.status, d.moneyImpact, d.material, values];
}

function describeChange(before: Shown, now: Shown): string[] {
  const what: string[] = [];
  if (before[0] !== now[0]) what.push(`status ${before[0]} → ${now[0]}`);
  if (before[1] !== now[1]) what.push(`money impact ${before[1] ?? 'none'} → ${now[1] ?? 'none'}`);
  if (before[2] !== now[2]) what.push(now[2] ? 'now material' : 'no longer material');
  if (before[3] !== now[3]) what.push('values changed');
  return what;
}

interface SignoffRow {
  id: string;
  period: string;
  signed_by: string;
  signed_at: Date;
  run_id: string;
  note: string | null;
  discrepancy_ids: string[];
  totals: Record<string, unknown>;
}

export async function loadSignoffs(db: Queryable, tenant: string, period: string): Promise<Signoff[]> {
  const { rows } = await db.query<SignoffRow>(
    `SELECT id::text, period, signed_by, signed_at, run_id, note, discrepancy_ids::text[] AS discrepancy_ids, totals
       FROM control.close_signoffs WHERE tenant_id = $1 AND period = $2 ORDER BY signed_at DESC, id DESC`,
    [tenant, period],
  );
  return rows.map((r) => ({
    id: r.id,
    period: r.period,
    signedBy: r.signed_by,
    signedAt: r.signed_at,
    runId: r.run_id,
    note: r.note,
    discrepancyIds: r.discrepancy_ids,
    totals: r.totals,
  }));
}

async function periodChanges(
  db: Queryable,
  tenant: string,
  period: string,
  run: ReportRun,
  found: readonly ReportDiscrepancy[],
): Promise<PeriodChanges> {
  const { rows } = await db.query<{ run_id: string; made_at: Date; shown: Record<string, Shown> }>(
    `SELECT run_id, made_at, shown FROM control.period_reports
      WHERE tenant_id = $1 AND period = $2 AND run_started_at < $3 AND run_id <> $4
      ORDER BY run_started_at DESC LIMIT 1`,
    [tenant, period, run.startedAt, run.runId],
  );
  const prev = rows[0];
  if (!prev) return { since: null, appeared: [], gone: [], changed: [] };
  const now = new Map(found.map((d) => [d.id, d]));
  const appeared = found.filter((d) => !prev.shown[d.id]).map((d) => d.id);
  const changed: PeriodChanges['changed'] = [];
  for (const d of found) {
    const before = prev.shown[d.id];
    if (!before) continue;
    const what = describeChange(before, shownOf(d));
    if (what.length) changed.push({ id: d.id, what });
  }
  const goneIds = Object.keys(prev.shown).filter((id) => !now.has(id));
  const gone = goneIds.length
    ? (
        await db.query<{
          id: string;
          entity: string;
          class: string;
          field: string;
          match_key: string;
          status: string;
        }>(
          `SELECT id::text, entity, class, field, match_key, status FROM control.discrepancies
            WHERE tenant_id = $1 AND id = ANY($2::bigint[]) ORDER BY id::bigint`,
          [tenant, goneIds],
        )
      ).rows.map((r) => ({
        id: r.id,
        entity: r.entity,
        class: r.class,
        field: r.field,
        matchKey: r.match_key,
        status: r.status,
      }))
    : [];
  return { since: { runId: prev.run_id, madeAt: prev.made_at }, appeared, gone, changed };
}

/** Live records of the tenant's CRM and ERP whose business date is in the period (all, without one). */
export async function recordsInPeriod(
  db: Queryable,
  tenant: string,
  systems: { crm: string; erp: string },
  period: ClosePeriod,
  entities: readonly Entity[] = ENTITIES,
): Promise<number> {
  let n = 0;
  for (const entity of entities) {
    const def = BUSINESS_DATE[entity];
    const from = def ? quoteIdent(def.from) : null;
    const to = def?.to ? quoteIdent(def.to) : null;
    const inPeriod = !from
      ? 'true'
      : to
        ? `(${from} IS NULL OR ${from} < $4::date) AND (${to} IS NULL OR ${to} >= $3::date)`
        : `(${from} IS NULL OR (${from} >= $3::date AND ${from} < $4::date))`;
    const { rows } = await db.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM staging.${quoteIdent(entity)}
        WHERE tenant_id = $1 AND system = ANY($2::text[]) AND deleted_at IS NULL AND ${inPeriod}`,
      from
        ? [tenant, [systems.crm, systems.erp], period.start, period.end]
        : [tenant, [systems.crm, systems.erp]],
    );
    n += Number(rows[0]?.n ?? 0);
  }
  return n;
}

export async function loadCloseSection(
  db: Queryable,
  opts: { tenant: string; systems: { crm: string; erp: string }; period: ClosePeriod; run: ReportRun },
  found: readonly ReportDiscrepancy[],
): Promise<CloseSection> {
  const signoffs = await loadSignoffs(db, opts.tenant, opts.period.period);
  const latest = signoffs[0];
  const seen = new Set(latest?.discrepancyIds ?? []);
  // Not live at the sign-off, or opened again since (a reopened discrepancy keeps its id).
  const afterSignoff = latest
    ? found.filter((d) => !seen.has(d.id) || d.firstSeen > latest.signedAt).map((d) => d.id)
    : [];
  return {
    period: opts.period,
    signoffs,
    afterSignoff,
    changes: await periodChanges(db, opts.tenant, opts.period.period, opts.run, found),
    recordsInPeriod: await recordsInPeriod(
      db,
      opts.tenant,
      opts.systems,
      opts.period,
      opts.run.entities.map((e) => e.entity),
    ),
  };
}

/** Records what a pack of the period showed, replacing an earlier pack of the same run. */
export async function recordPeriodReport(
  db: Queryable,
  opts: { tenant: string; period: string; run: ReportRun },
  found: readonly ReportDiscrepancy[],
): Promise<void> {
  await db.query(
    `INSERT INTO control.period_reports (tenant_id, period, run_id, run_started_at, shown)
     VALUES ($1, $2, $3, $4, $5::jsonb)
     ON CONFLICT (tenant_id, period, run_id) DO UPDATE SET made_at = now(), shown = EXCLUDED.shown`,
    [
      opts.tenant,
      opts.period,
      opts.run.runId,
      opts.run.startedAt,
      JSON.stringify(Object.fromEntries(found.map((d) => [d.id, shownOf(d)]))),
    ],
  );
}

// The figures at the top of a report, computed from its rows: counts by class and entity,
// material and accepted counts, money at stake per currency (never added across currencies: there
// are no exchange rates), aging by runs open and by days, actions by status, and the top material
// discrepancies. The HTML cards and charts, the XLSX summary sheet and a close pack's
// summary.json all show these.
import { DISCREPANCY_CLASSES } from './columns.js';
import { addTo } from './decimal-sum.js';
import { recordsCompared } from './load-run.js';
import type { ReportData, ReportDiscrepancy } from './report-model.js';

export interface Bucket {
  bucket: string;
  count: number;
}

export interface ReportSummary {
  tenant: string;
  runId: string;
  runStatus: string;
  runStartedAt: string;
  generatedAt: string;
  period: string | null;
  entities: string[];
  /** Records of both sides the run compared (its mirrors' rows); null when the summary lacks them. */
  recordsCompared: number | null;
  discrepancies: number;
  open: number;
  accepted: number;
  material: number;
  openMaterial: number;
  acceptedMaterial: number;
  byClass: Record<string, number>;
  byEntity: Record<string, Record<string, number>>;
  /** Currency → sum of money impact (decimal string), all and material only. */
  moneyAtStake: Record<string, string>;
  materialMoneyAtStake: Record<string, string>;
  /** Entity → currency → sum of money impact. */
  moneyByEntity: Record<string, Record<string, string>>;
  agingRuns: Bucket[];
  agingDays: Bucket[];
  actionsByStatus: Record<string, number>;
}

const RUN_BUCKETS: [string, number][] = [
  ['1', 1],
  ['2', 2],
  ['3–5', 5],
  ['6–10', 10],
  ['11+', Number.POSITIVE_INFINITY],
];
const DAY_BUCKETS: [string, number][] = [
  ['< 1 day', 1],
  ['1–7 days', 8],
  ['8–30 days', 31],
  ['31–90 days', 91],
  ['> 90 days', Number.POSITIVE_INFINITY],
];

function bucketise(values: Iterable<number>, edges: [string, number][], below: boolean): Bucket[] {
  const counts = edges.map(([bucket]) => ({ bucket, count: 0 }));
  for (const v of values) {
    const i = edges.findIndex(([, edge]) => (below ? v < edge : v <= edge));
    counts[i === -1 ? edges.length - 1 : i]!.count++;
  }
  return counts;
}

const sortedRecord = <T>(m: Map<string, T>): Record<string, T> =>
  Object.fromEntries([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** When a report's ages are measured: the end of its run (or its start while it runs). */
export const reportTime = (data: ReportData): Date => data.run.finishedAt ?? data.run.startedAt;

export const daysOpen = (d: ReportDiscrepancy, at: Date): number =>
  Math.max(0, Math.floor((at.getTime() - d.firstSeen.getTime()) / 86_400_000));

export function summarise(data: ReportData): ReportSummary {
  const byClass = new Map<string, number>(DISCREPANCY_CLASSES.map((c) => [c, 0]));
  const byEntity = new Map<string, Record<string, number>>();
  const money = new Map<string, string>();
  const materialMoney = new Map<string, string>();
  const moneyByEntity = new Map<string, Map<string, string>>();
  for (const e of data.run.entities)
    byEntity.set(e.entity, Object.fromEntries(DISCREPANCY_CLASSES.map((c) => [c, 0])));
  let accepted = 0;
  let material = 0;
  let acceptedMaterial = 0;
  for (const d of data.discrepancies) {
    byClass.set(d.class, (byClass.get(d.class) ?? 0) + 1);
    const row = byEntity.get(d.entity) ?? {};
    row[d.class] = (row[d.class] ?? 0) + 1;
    byEntity.set(d.entity, row);
    if (d.status === 'accepted') accepted++;
    if (d.material) material++;
    if (d.material && d.status === 'accepted') acceptedMaterial++;
    if (d.currency && d.moneyImpact !== null) {
      addTo(money, d.currency, d.moneyImpact);
      if (d.material) addTo(materialMoney, d.currency, d.moneyImpact);
      const m = moneyByEntity.get(d.entity) ?? new Map<string, string>();
      addTo(m, d.currency, d.moneyImpact);
      moneyByEntity.set(d.entity, m);
    }
  }
  const at = reportTime(data);
  const actionsByStatus = new Map<string, number>();
  for (const a of data.actions) actionsByStatus.set(a.status, (actionsByStatus.get(a.status) ?? 0) + 1);
  return {
    tenant: data.tenant,
    runId: data.run.runId,
    runStatus: data.run.status,
    runStartedAt: data.run.startedAt.toISOString(),
    generatedAt: data.generatedAt.toISOString(),
    period: data.close?.period.period ?? null,
    entities: data.run.entities.map((e) => e.entity),
    recordsCompared: recordsCompared(data.run),
    discrepancies: data.discrepancies.length,
    open: data.discrepancies.length - accepted,
    accepted,
    material,
    openMaterial: material - acceptedMaterial,
    acceptedMaterial,
    byClass: Object.fromEntries(byClass),
    byEntity: Object.fromEntries(byEntity),
    moneyAtStake: sortedRecord(money),
    materialMoneyAtStake: sortedRecord(materialMoney),
    moneyByEntity: Object.fromEntries([...moneyByEntity].map(([e, m]) => [e, sortedRecord(m)])),
    agingRuns: bucketise(
      data.discrepancies.map((d) => d.runsOpen),
      RUN_BUCKETS,
      false,
    ),
    agingDays: bucketise(
      data.discrepancies.map((d) => daysOpen(d, at)),
      DAY_BUCKETS,
      true,
    ),
    actionsByStatus: sortedRecord(actionsByStatus),
  };
}

/** The material discrepancies, largest money impact first (compared as numbers, across currencies). */
export function topMaterial(data: ReportData, limit = 20): ReportDiscrepancy[] {
  return data.discrepancies
    .filter((d) => d.material)
    .sort((a, b) => Number(b.moneyImpact ?? 0) - Number(a.moneyImpact ?? 0) || Number(a.id) - Number(b.id))
    .slice(0, limit);
}

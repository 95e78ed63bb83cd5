// What a report is made of, read once from the control tables (load-report.ts) and handed to every
// writer (csv, xlsx, parquet, html): the run, the discrepancies live at that run with their
// proposed corrections, the actions, the trend of the tenant's runs, and for a close pack the
// period, its sign-offs and what changed since the last pack.
import type { Entity } from '../staging/model/entities.js';
import type { ClosePeriod } from './report-period.js';

export type Side = 'crm' | 'erp';

/** What survivorship decided for one discrepancy, from the latest action that corrects it. */
export interface GoldenValue {
  value: unknown;
  /** The survivorship rule (`owner`, `most_recent`, …), or `create_missing` for a create. */
  rule: string;
  winner: Side | null;
  comparator: string | null;
}

export interface ReportDiscrepancy {
  id: string;
  entity: Entity;
  class: string;
  field: string;
  matchKey: string;
  crmId: string | null;
  erpId: string | null;
  crmValue: unknown;
  erpValue: unknown;
  golden: GoldenValue | null;
  currency: string | null;
  moneyImpact: string | null;
  material: boolean;
  /** `YYYY-MM-DD` (ERP's, else CRM's); null for customers, products and records without one. */
  businessDate: string | null;
  firstSeen: Date;
  firstSeenRun: string;
  runsOpen: number;
  status: 'open' | 'accepted';
  acceptedBy: string | null;
  acceptedReason: string | null;
  candidates: string[];
  /** The latest action that corrects it (any status), when one was planned. */
  actionId: string | null;
  actionStatus: string | null;
}

export interface ReportAction {
  id: string;
  entity: string;
  runId: string;
  kind: string;
  targetSystem: string;
  targetId: string | null;
  matchKey: string | null;
  /** For a create: the record it copies. */
  source: { system: string; id: string } | null;
  /** The fields it sets, as JSON text. */
  fields: string;
  /** Per field: `name: rule → side`. */
  why: string;
  observedVersion: string | null;
  status: string;
  decidedBy: string | null;
  decidedAt: Date | null;
  error: string | null;
  createdAt: Date;
}

export interface ReportRun {
  runId: string;
  status: string;
  mode: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  error: string | null;
  /** The run's summary as stored (control.runs.summary, the content of summary.json). */
  summary: Record<string, unknown> | null;
  /** The entities the run reconciled (control.entity_runs) and when each wrote its results. */
  entities: { entity: Entity; at: Date }[];
}

export interface TrendPoint {
  runId: string;
  startedAt: Date;
  discrepancies: number;
  material: number;
  accepted: number;
}

export interface Signoff {
  id: string;
  period: string;
  signedBy: string;
  signedAt: Date;
  runId: string;
  note: string | null;
  discrepancyIds: string[];
  totals: Record<string, unknown>;
}

export interface PeriodChanges {
  /** The previous pack of the period (an earlier run), or null for the first. */
  since: { runId: string; madeAt: Date } | null;
  appeared: string[];
  /** Shown before and not now: resolved, or out of the period now. */
  gone: { id: string; entity: string; class: string; field: string; matchKey: string; status: string }[];
  changed: { id: string; what: string[] }[];
}

export interface CloseSection {
  period: ClosePeriod;
  signoffs: Signoff[];
  /** Ids of discrepancies of the report that the latest sign-off did not see. */
  afterSignoff: string[];
  changes: PeriodChanges;
  /** Live records of the period's entities (CRM + ERP) whose business date is in the period. */
  recordsInPeriod: number;
}

export interface ReportData {
  tenant: string;
  generatedAt: Date;
  run: ReportRun;
  discrepancies: ReportDiscrepancy[];
  actions: ReportAction[];
  trend: TrendPoint[];
  close: CloseSection | null;
}

/**
 * A stored JSON value as a person reads it: text as is, numbers and booleans as written, null as
 * empty, a list of plain values joined by ", ", anything else as JSON.
 */
export function valueText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v) && v.every((x) => x === null || ['string', 'number', 'boolean'].includes(typeof x)))
    return v.map((x) => (x === null ? '' : String(x))).join(', ');
  return JSON.stringify(v);
}

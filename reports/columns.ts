// The fixed column sets of discrepancies.csv and actions.csv, shared by every writer: the CSV and
// XLSX files, the Parquet file and the HTML table show the same columns in the same order
// (docs/reports.md lists them). Each column has its header, a kind that says how typed formats
// store it, and its text as CSV writes it (before formula neutralisation).
import { type Entity, fieldDef } from '../staging/model/entities.js';
import { type ReportAction, type ReportDiscrepancy, valueText } from './report-model.js';

export { DISCREPANCY_CLASSES } from '../staging/control/discrepancy-states.js';

/**
 * text · int (an id or a count) · money (a decimal in the row's currency) · bool · date
 * (`YYYY-MM-DD`) · timestamp (UTC) · value (a record's value: money or a date when the field is one)
 */
export type ColumnKind = 'text' | 'int' | 'money' | 'bool' | 'date' | 'timestamp' | 'value';

export interface Column<T> {
  name: string;
  kind: ColumnKind;
  text(row: T, tenant: string): string;
}

const iso = (d: Date | null) => (d ? d.toISOString() : '');
const opt = (v: string | null | undefined) => v ?? '';

export const DISCREPANCY_COLUMNS: readonly Column<ReportDiscrepancy>[] = [
  { name: 'id', kind: 'int', text: (d) => d.id },
  { name: 'tenant', kind: 'text', text: (_d, tenant) => tenant },
  { name: 'entity', kind: 'text', text: (d) => d.entity },
  { name: 'class', kind: 'text', text: (d) => d.class },
  { name: 'field', kind: 'text', text: (d) => d.field },
  { name: 'match_key', kind: 'text', text: (d) => d.matchKey },
  { name: 'crm_id', kind: 'text', text: (d) => opt(d.crmId) },
  { name: 'erp_id', kind: 'text', text: (d) => opt(d.erpId) },
  { name: 'crm_value', kind: 'value', text: (d) => valueText(d.crmValue) },
  { name: 'erp_value', kind: 'value', text: (d) => valueText(d.erpValue) },
  { name: 'golden_value', kind: 'value', text: (d) => (d.golden ? valueText(d.golden.value) : '') },
  { name: 'rule', kind: 'text', text: (d) => opt(d.golden?.rule) },
  { name: 'winner', kind: 'text', text: (d) => opt(d.golden?.winner) },
  { name: 'currency', kind: 'text', text: (d) => opt(d.currency) },
  { name: 'money_impact', kind: 'money', text: (d) => opt(d.moneyImpact) },
  { name: 'material', kind: 'bool', text: (d) => String(d.material) },
  { name: 'business_date', kind: 'date', text: (d) => opt(d.businessDate) },
  { name: 'first_seen', kind: 'timestamp', text: (d) => iso(d.firstSeen) },
  { name: 'first_seen_run', kind: 'text', text: (d) => d.firstSeenRun },
  { name: 'runs_open', kind: 'int', text: (d) => String(d.runsOpen) },
  { name: 'status', kind: 'text', text: (d) => d.status },
  { name: 'accepted_by', kind: 'text', text: (d) => opt(d.acceptedBy) },
  { name: 'accepted_reason', kind: 'text', text: (d) => opt(d.acceptedReason) },
  { name: 'candidates', kind: 'text', text: (d) => d.candidates.join(', ') },
  { name: 'action_id', kind: 'int', text: (d) => opt(d.actionId) },
  { name: 'action_status', kind: 'text', text: (d) => opt(d.actionStatus) },
];

export const ACTION_COLUMNS: readonly Column<ReportAction>[] = [
  { name: 'id', kind: 'int', text: (a) => a.id },
  { name: 'tenant', kind: 'text', text: (_a, tenant) => tenant },
  { name: 'entity', kind: 'text', text: (a) => a.entity },
  { name: 'kind', kind: 'text', text: (a) => a.kind },
  { name: 'target_system', kind: 'text', text: (a) => a.targetSystem },
  { name: 'target_id', kind: 'text', text: (a) => opt(a.targetId) },
  { name: 'match_key', kind: 'text', text: (a) => opt(a.matchKey) },
  { name: 'source', kind: 'text', text: (a) => (a.source ? `${a.source.system}:${a.source.id}` : '') },
  { name: 'fields', kind: 'text', text: (a) => a.fields },
  { name: 'why', kind: 'text', text: (a) => a.why },
  { name: 'observed_version', kind: 'text', text: (a) => opt(a.observedVersion) },
  { name: 'status', kind: 'text', text: (a) => a.status },
  { name: 'decided_by', kind: 'text', text: (a) => opt(a.decidedBy) },
  { name: 'decided_at', kind: 'timestamp', text: (a) => iso(a.decidedAt) },
  { name: 'error', kind: 'text', text: (a) => opt(a.error) },
  { name: 'created_at', kind: 'timestamp', text: (a) => iso(a.createdAt) },
  { name: 'run_id', kind: 'text', text: (a) => a.runId },
];

/** How a record's value column is typed: money when its field is a money field, date when a date. */
export function valueKind(entity: Entity, field: string): 'money' | 'date' | 'text' {
  const def = fieldDef(entity, field);
  if (def?.currencyField) return 'money';
  if (def?.type === 'date') return 'date';
  return 'text';
}

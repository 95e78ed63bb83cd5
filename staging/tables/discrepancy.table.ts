import type { ColumnType, Generated } from 'kysely';
import type { DiscrepancyClass, DiscrepancyStatus } from '../control/discrepancy-states.js';

export interface DiscrepancyTable {
  tenant_id: string;
  id: Generated<string>;
  entity: string;
  match_key: string;
  class: DiscrepancyClass;
  field: Generated<string>;
  crm_id: string | null;
  erp_id: string | null;
  crm_value: ColumnType<unknown, string | null, string | null>;
  erp_value: ColumnType<unknown, string | null, string | null>;
  currency: string | null;
  money_impact: string | null;
  material: Generated<boolean>;
  status: Generated<DiscrepancyStatus>;
  first_seen_run: string;
  last_seen_run: string;
  first_seen: Generated<Date>;
  last_seen: Generated<Date>;
  runs_open: Generated<number>;
  resolved_at: Date | null;
  accepted_by: string | null;
  accepted_reason: string | null;
  detail: ColumnType<unknown, string | null, string | null>;
}

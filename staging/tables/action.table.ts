import type { ColumnType, Generated } from 'kysely';
import type { ActionKind, ActionStatus } from '../control/action-states.js';

export interface ActionTable {
  tenant_id: string;
  id: Generated<string>;
  run_id: string;
  entity: string;
  target_system: string;
  target_id: string | null;
  kind: ActionKind;
  fields: ColumnType<unknown, string, string>;
  explanation: ColumnType<unknown, string, string>;
  observed_version: string | null;
  idempotency_key: string;
  status: Generated<ActionStatus>;
  decided_by: string | null;
  decided_at: Date | null;
  applied_at: Date | null;
  error: string | null;
  created_at: Generated<Date>;
}

import type { ColumnType, Generated } from 'kysely';

export interface CheckpointTable {
  tenant_id: string;
  system: string;
  stream: string;
  position: ColumnType<unknown, string, string>;
  state: Generated<string>;
  detail: string | null;
  rows_total: ColumnType<string, string | number | undefined, string | number>;
  updated_at: Generated<Date>;
}

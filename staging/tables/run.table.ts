import type { ColumnType, Generated } from 'kysely';

export interface RunTable {
  tenant_id: string;
  run_id: string;
  kind: string;
  mode: string | null;
  status: Generated<'running' | 'succeeded' | 'failed'>;
  started_at: Generated<Date>;
  finished_at: Date | null;
  source_positions: ColumnType<unknown, string | null, string | null>;
  summary: ColumnType<unknown, string | null, string | null>;
  error: string | null;
  output_dir: string | null;
}

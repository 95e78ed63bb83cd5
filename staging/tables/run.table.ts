import type { ColumnType, Generated } from 'kysely';
import type { RunStatus } from '../control/run-states.js';

export interface RunTable {
  tenant_id: string;
  run_id: string;
  kind: string;
  mode: string | null;
  status: Generated<RunStatus>;
  started_at: Generated<Date>;
  finished_at: Date | null;
  source_positions: ColumnType<unknown, string | null, string | null>;
  summary: ColumnType<unknown, string | null, string | null>;
  error: string | null;
  output_dir: string | null;
}

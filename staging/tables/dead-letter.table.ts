import type { ColumnType, Generated } from 'kysely';
import type { DeadLetterStatus } from '../control/dead-letter-states.js';

export interface DeadLetterTable {
  tenant_id: string;
  id: Generated<string>;
  system: string;
  entity: string;
  source_id: string | null;
  record: ColumnType<unknown, string, string>;
  error_kind: string;
  error_message: string;
  location: string | null;
  fingerprint: string;
  status: Generated<DeadLetterStatus>;
  attempts: Generated<number>;
  first_seen: Generated<Date>;
  last_seen: Generated<Date>;
  resolved_at: Date | null;
  /** Why the last replay failed (0006); error_message keeps the original reason. */
  last_replay_error: ColumnType<string | null, string | null | undefined, string | null>;
}

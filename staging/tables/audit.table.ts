import type { ColumnType, Generated } from 'kysely';

export interface AuditTable {
  tenant_id: string;
  id: Generated<string>;
  at: Generated<Date>;
  actor: string;
  action: string;
  subject: string | null;
  detail: ColumnType<unknown, string | null, string | null>;
}

import type { Generated } from 'kysely';

export interface XrefTable {
  tenant_id: string;
  entity: string;
  crm_system: string;
  crm_id: string;
  erp_system: string;
  erp_id: string;
  origin: 'key_match' | 'manual';
  created_by: string | null;
  created_at: Generated<Date>;
}

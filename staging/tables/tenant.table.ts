import type { Generated } from 'kysely';

export interface TenantTable {
  tenant_id: string;
  display_name: string | null;
  config_hash: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface TenantRoleTable {
  role_name: string;
  tenant_id: string;
}

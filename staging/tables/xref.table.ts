import type { Generated } from 'kysely';
import type { XrefOrigin } from '../control/xref-states.js';

export interface XrefTable {
  tenant_id: string;
  entity: string;
  crm_system: string;
  crm_id: string;
  erp_system: string;
  erp_id: string;
  origin: XrefOrigin;
  created_by: string | null;
  created_at: Generated<Date>;
}

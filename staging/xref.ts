// Cross-system links between a CRM record and an ERP record of one tenant and entity.
// Auto-recorded from key matches by the reconcilers; `trueup xref link|unlink` for manual ones.
import type { Db } from './database.js';

export interface XrefLink {
  tenant: string;
  entity: string;
  crmSystem: string;
  crmId: string;
  erpSystem: string;
  erpId: string;
  origin: 'key_match' | 'manual';
  createdBy?: string | null;
}

export async function linkRecords(db: Db, links: readonly XrefLink[]): Promise<void> {
  if (!links.length) return;
  await db
    .insertInto('control.xref')
    .values(
      links.map((l) => ({
        tenant_id: l.tenant,
        entity: l.entity,
        crm_system: l.crmSystem,
        crm_id: l.crmId,
        erp_system: l.erpSystem,
        erp_id: l.erpId,
        origin: l.origin,
        created_by: l.createdBy ?? null,
      })),
    )
    .onConflict((oc) => oc.doNothing())
    .execute();
}

export async function unlinkRecords(
  db: Db,
  l: { tenant: string; entity: string; crmSystem: string; crmId: string; erpSystem: string; erpId: string },
): Promise<number> {
  const res = await db
    .deleteFrom('control.xref')
    .where('tenant_id', '=', l.tenant)
    .where('entity', '=', l.entity)
    .where('crm_system', '=', l.crmSystem)
    .where('crm_id', '=', l.crmId)
    .where('erp_system', '=', l.erpSystem)
    .where('erp_id', '=', l.erpId)
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}

export async function listLinks(db: Db, tenant: string, entity: string): Promise<XrefLink[]> {
  const rows = await db
    .selectFrom('control.xref')
    .selectAll()
    .where('tenant_id', '=', tenant)
    .where('entity', '=', entity)
    .execute();
  return rows.map((r) => ({
    tenant: r.tenant_id,
    entity: r.entity,
    crmSystem: r.crm_system,
    crmId: r.crm_id,
    erpSystem: r.erp_system,
    erpId: r.erp_id,
    origin: r.origin,
    createdBy: r.created_by,
  }));
}

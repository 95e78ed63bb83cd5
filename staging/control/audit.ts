// control.audit: who decided what about which discrepancy or action, and why. Rows are only ever
// inserted (no statuses, no transitions), in the transaction of the decision they record: the
// decision queries of discrepancies.ts and actions.ts write them. This module names the audit
// actions once and reads the reasons back.
import { sql } from 'kysely';
import type { Db } from '../database.js';

/** Every audit action any part of trueup writes: the one list (reports and tests read it). */
export const AUDIT_ACTIONS = [
  'discrepancy.accept',
  'action.approve',
  'action.reject',
  'action.withdraw',
  // the apply step (pipeline/apply/record-outcomes.ts)
  'action.apply',
  'action.fail',
  'action.stale',
  // the close pack (reports/close-signoff.ts)
  'close.signoff',
  'close.refuse',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** The subject of an audit row: `discrepancy:<id>`, `action:<id>`. */
export const auditSubject = (table: 'discrepancy' | 'action', id: string) => `${table}:${id}`;

/**
 * The reason of each action's latest reviewer decision (approve or reject) as the audit holds it:
 * control.actions has no column for it. Keyed by action id.
 */
export async function latestDecisions(
  db: Db,
  tenant: string,
  actionIds: readonly string[],
): Promise<Map<string, { action: AuditAction; actor: string; reason: string | null }>> {
  if (!actionIds.length) return new Map();
  const decisions: AuditAction[] = ['action.approve', 'action.reject'];
  const { rows } = await sql<{ id: string; action: AuditAction; actor: string; reason: string | null }>`
    SELECT DISTINCT ON (au.subject) substr(au.subject, 8) AS id, au.action, au.actor, au.detail->>'reason' AS reason
      FROM control.audit au
     WHERE au.tenant_id = ${tenant} AND au.subject = ANY(${actionIds.map((id) => auditSubject('action', id))}::text[])
       AND au.action = ANY(${decisions}::text[])
     ORDER BY au.subject, au.id DESC`.execute(db);
  return new Map(rows.map((r) => [r.id, { action: r.action, actor: r.actor, reason: r.reason }]));
}

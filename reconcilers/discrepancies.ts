// Reading and accepting discrepancies (control.discrepancies) for reviewers. Accepting records who
// and why, and writes one audit row per discrepancy in the same transaction; an accepted
// discrepancy stays accepted while reconciliation keeps seeing it, becomes resolved when it goes
// away at the source, and opens again if it comes back (lifecycle.ts).
import type pg from 'pg';
import { inTransaction } from '../staging/database.js';
import type { Entity } from '../staging/model/entities.js';
import type { DiscrepancyStatus } from '../staging/tables/discrepancy.table.js';

export interface DiscrepancyView {
  id: string;
  entity: string;
  class: string;
  field: string;
  matchKey: string;
  crmValue: unknown;
  erpValue: unknown;
  currency: string | null;
  moneyImpact: string | null;
  material: boolean;
  status: DiscrepancyStatus;
  runsOpen: number;
  firstSeen: Date;
  lastSeen: Date;
  acceptedBy: string | null;
  acceptedReason: string | null;
}

export interface ListFilter {
  tenant: string;
  entity?: Entity;
  status?: DiscrepancyStatus;
  material?: boolean;
  ids?: readonly string[];
  limit?: number;
}

/** Discrepancies of a tenant, material and largest impact first. */
export async function listDiscrepancies(
  db: pg.Pool | pg.PoolClient,
  f: ListFilter,
): Promise<DiscrepancyView[]> {
  const { rows } = await db.query(
    `SELECT id::text, entity, class, field, match_key, crm_value, erp_value, currency::text, money_impact::text,
            material, status, runs_open, first_seen, last_seen, accepted_by, accepted_reason
       FROM control.discrepancies_now
      WHERE tenant_id = $1 AND ($2::text IS NULL OR entity = $2) AND ($3::text IS NULL OR status = $3)
        AND (NOT $4 OR material) AND ($6::bigint[] IS NULL OR id = ANY($6::bigint[]))
      ORDER BY material DESC, money_impact DESC NULLS LAST, entity, first_seen, id
      LIMIT $5`,
    [f.tenant, f.entity ?? null, f.status ?? null, f.material ?? false, f.limit ?? 1_000, f.ids ?? null],
  );
  return rows.map((r) => ({
    id: r.id,
    entity: r.entity,
    class: r.class,
    field: r.field,
    matchKey: r.match_key,
    crmValue: r.crm_value,
    erpValue: r.erp_value,
    currency: r.currency,
    moneyImpact: r.money_impact,
    material: r.material,
    status: r.status,
    runsOpen: r.runs_open,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    acceptedBy: r.accepted_by,
    acceptedReason: r.accepted_reason,
  }));
}

export class AcceptError extends Error {
  override name = 'AcceptError';
  readonly kind = 'terminal';
  constructor(
    message: string,
    readonly detail: { tenant: string; missing: string[]; resolved: string[] },
  ) {
    super(message);
  }
}

/**
 * Accepts discrepancies of a tenant by id: all or none. Unknown ids, or ones already resolved
 * (nothing left to accept), fail the whole call with an AcceptError naming them.
 */
export async function acceptDiscrepancies(
  pool: pg.Pool,
  a: { tenant: string; ids: readonly string[]; by: string; reason: string },
): Promise<DiscrepancyView[]> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<{ id: string; status: string }>(
      `SELECT id::text, status FROM control.discrepancies WHERE tenant_id = $1 AND id = ANY($2::bigint[]) FOR UPDATE`,
      [a.tenant, a.ids],
    );
    const found = new Map(rows.map((r) => [r.id, r.status]));
    const missing = a.ids.filter((id) => !found.has(id));
    const resolved = a.ids.filter((id) => found.get(id) === 'resolved');
    if (missing.length || resolved.length)
      throw new AcceptError(
        `tenant ${a.tenant}: ${[
          missing.length ? `no discrepancy ${missing.join(', ')}` : '',
          resolved.length ? `already resolved: ${resolved.join(', ')}` : '',
        ]
          .filter(Boolean)
          .join('; ')} — nothing was accepted`,
        { tenant: a.tenant, missing, resolved },
      );
    await client.query(
      `WITH acc AS (
         UPDATE control.discrepancies d SET status = 'accepted', accepted_by = $3, accepted_reason = $4
           FROM (SELECT id, status FROM control.discrepancies WHERE tenant_id = $1 AND id = ANY($2::bigint[])) prev
          WHERE d.tenant_id = $1 AND d.id = prev.id
          RETURNING d.id, d.entity, d.match_key, d.class, d.field, prev.status AS previous)
       INSERT INTO control.audit (tenant_id, actor, action, subject, detail)
       SELECT $1, $3, 'discrepancy.accept', 'discrepancy:' || acc.id,
              jsonb_build_object('entity', acc.entity, 'matchKey', acc.match_key, 'class', acc.class,
                                 'field', acc.field, 'reason', $4::text, 'previousStatus', acc.previous)
         FROM acc`,
      [a.tenant, a.ids, a.by, a.reason],
    );
    return listDiscrepancies(client, { tenant: a.tenant, ids: a.ids, limit: a.ids.length });
  });
}

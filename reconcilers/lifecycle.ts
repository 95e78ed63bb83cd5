// Lifecycle of discrepancies and actions in control.discrepancies / control.actions. A
// discrepancy keeps its identity (tenant, entity, match key, class, field) across runs: first
// and last seen, runs_open, status open → resolved (gone at the source) or accepted (by a
// reviewer; stays accepted while it persists). One transaction per tenant × entity and run,
// serialised by an advisory lock so two runs of the same tenant × entity cannot interleave.
import type pg from 'pg';
import { inTransaction } from '../staging/database.js';
import type { Entity } from '../staging/model/entities.js';
import type { Discrepancy } from './classify.js';
import type { PlannedAction } from './survivorship.js';

export interface WriteInput {
  tenant: string;
  entity: Entity;
  runId: string;
  discrepancies: readonly Discrepancy[];
  actions: readonly PlannedAction[];
  policy: 'propose' | 'auto_approve' | 'disabled';
  /** Pairs matched by a business key: recorded in xref (origin key_match). */
  keyMatches: readonly { crmId: string; erpId: string }[];
  systems: { crm: string; erp: string };
  /** Discrepancies resolved during in-flight confirmation (match key, class, field). */
  resolvedInFlight: readonly Pick<Discrepancy, 'matchKey' | 'class' | 'field'>[];
}

export interface WriteOutput {
  opened: number;
  resolved: number;
  actionsInserted: number;
  actionsSuperseded: number;
}

/** CRM and ERP ids of this entity's open (or accepted) discrepancies: they seed an incremental scope. */
export async function openDiscrepancyIds(
  pool: pg.Pool,
  tenant: string,
  entity: Entity,
): Promise<{ crm: string[]; erp: string[] }> {
  const { rows } = await pool.query<{ crm_id: string | null; erp_id: string | null }>(
    `SELECT crm_id, erp_id FROM control.discrepancies
      WHERE tenant_id = $1 AND entity = $2 AND status IN ('open', 'accepted')`,
    [tenant, entity],
  );
  return {
    crm: rows.flatMap((r) => (r.crm_id ? [r.crm_id] : [])),
    erp: rows.flatMap((r) => (r.erp_id ? [r.erp_id] : [])),
  };
}

export async function writeResults(pool: pg.Pool, input: WriteInput): Promise<WriteOutput> {
  const { tenant, entity, runId } = input;
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [
      tenant,
      `reconcile:${entity}`,
    ]);
    const rows = input.discrepancies.map((d) => ({
      match_key: d.matchKey,
      class: d.class,
      field: d.field,
      crm_id: d.crmId,
      erp_id: d.erpId,
      crm_value: d.crmValue ?? null,
      erp_value: d.erpValue ?? null,
      currency: d.currency,
      money_impact: d.moneyImpact,
      material: d.material,
      detail: d.detail,
    }));
    const up = await client.query<{ inserted: boolean }>(
      `INSERT INTO control.discrepancies AS d (tenant_id, entity, match_key, class, field, crm_id, erp_id, crm_value,
          erp_value, currency, money_impact, material, first_seen_run, last_seen_run, detail)
       SELECT $1, $2, x.match_key, x.class, x.field, x.crm_id, x.erp_id, x.crm_value, x.erp_value, x.currency,
              x.money_impact, x.material, $3, $3, x.detail
         FROM jsonb_to_recordset($4::jsonb) AS x(match_key text, class text, field text, crm_id text, erp_id text,
              crm_value jsonb, erp_value jsonb, currency text, money_impact numeric, material boolean, detail jsonb)
       ON CONFLICT (tenant_id, entity, match_key, class, field) DO UPDATE SET
         crm_id = EXCLUDED.crm_id, erp_id = EXCLUDED.erp_id, crm_value = EXCLUDED.crm_value,
         erp_value = EXCLUDED.erp_value, currency = EXCLUDED.currency, money_impact = EXCLUDED.money_impact,
         material = EXCLUDED.material, detail = EXCLUDED.detail,
         runs_open = CASE WHEN d.status = 'resolved' THEN 1
                          WHEN d.last_seen_run = EXCLUDED.last_seen_run THEN d.runs_open
                          ELSE d.runs_open + 1 END,
         first_seen_run = CASE WHEN d.status = 'resolved' THEN EXCLUDED.first_seen_run ELSE d.first_seen_run END,
         first_seen = CASE WHEN d.status = 'resolved' THEN now() ELSE d.first_seen END,
         status = CASE WHEN d.status = 'accepted' THEN 'accepted' ELSE 'open' END,
         last_seen_run = EXCLUDED.last_seen_run, last_seen = now(), resolved_at = NULL
       RETURNING (xmax = 0) AS inserted`,
      [tenant, entity, runId, JSON.stringify(rows)],
    );
    // Every open discrepancy of this entity was re-examined by this run (incremental scopes
    // include them all), so one not seen now is gone at the source.
    const resolved = await client.query(
      `UPDATE control.discrepancies SET status = 'resolved', resolved_at = now()
        WHERE tenant_id = $1 AND entity = $2 AND status IN ('open', 'accepted') AND last_seen_run <> $3`,
      [tenant, entity, runId],
    );
    if (input.resolvedInFlight.length)
      await client.query(
        `UPDATE control.discrepancies d SET detail = coalesce(d.detail, '{}'::jsonb) || jsonb_build_object('resolvedInFlight', $3::text)
           FROM jsonb_to_recordset($4::jsonb) AS x(match_key text, class text, field text)
          WHERE d.tenant_id = $1 AND d.entity = $2 AND d.match_key = x.match_key AND d.class = x.class
            AND d.field = x.field AND d.status = 'resolved'`,
        [
          tenant,
          entity,
          runId,
          JSON.stringify(
            input.resolvedInFlight.map((r) => ({ match_key: r.matchKey, class: r.class, field: r.field })),
          ),
        ],
      );

    let actionsInserted = 0;
    let actionsSuperseded = 0;
    if (input.policy !== 'disabled') {
      const status = input.policy === 'auto_approve' ? 'approved' : 'proposed';
      const acts = input.actions.map((a) => ({
        entity: a.entity,
        target_system: a.targetSystem,
        target_id: a.targetId,
        kind: a.kind,
        fields: a.fields,
        explanation: a.explanation,
        observed_version: a.observedVersion,
        idempotency_key: a.idempotencyKey,
      }));
      const ins = await client.query(
        `INSERT INTO control.actions (tenant_id, run_id, entity, target_system, target_id, kind, fields, explanation,
            observed_version, idempotency_key, status, decided_by, decided_at)
         SELECT $1, $2, x.entity, x.target_system, x.target_id, x.kind, x.fields, x.explanation, x.observed_version,
                x.idempotency_key, $4, CASE WHEN $4 = 'approved' THEN 'policy:auto_approve' END,
                CASE WHEN $4 = 'approved' THEN now() END
           FROM jsonb_to_recordset($3::jsonb) AS x(entity text, target_system text, target_id text, kind text,
                fields jsonb, explanation jsonb, observed_version bigint, idempotency_key text)
         ON CONFLICT (tenant_id, idempotency_key) DO NOTHING`,
        [tenant, runId, JSON.stringify(acts), status],
      );
      actionsInserted = ins.rowCount ?? 0;
      // Undecided actions of earlier runs that this run no longer proposes are stale.
      const sup = await client.query(
        `UPDATE control.actions SET status = 'skipped_stale', error = 'superseded by run ' || $3
          WHERE tenant_id = $1 AND entity = $2 AND status IN ('proposed', 'approved') AND run_id <> $3
            AND NOT (idempotency_key = ANY($4::text[]))`,
        [tenant, entity, runId, input.actions.map((a) => a.idempotencyKey)],
      );
      actionsSuperseded = sup.rowCount ?? 0;
    }
    if (input.keyMatches.length)
      await client.query(
        `INSERT INTO control.xref (tenant_id, entity, crm_system, crm_id, erp_system, erp_id, origin, created_by)
         SELECT $1, $2, $3, c, $4, e, 'key_match', 'reconcile ' || $5 FROM unnest($6::text[], $7::text[]) AS x(c, e)
         ON CONFLICT DO NOTHING`,
        [
          tenant,
          entity,
          input.systems.crm,
          input.systems.erp,
          runId,
          input.keyMatches.map((k) => k.crmId),
          input.keyMatches.map((k) => k.erpId),
        ],
      );
    return {
      opened: up.rows.filter((r) => r.inserted).length,
      resolved: resolved.rowCount ?? 0,
      actionsInserted,
      actionsSuperseded,
    };
  });
}

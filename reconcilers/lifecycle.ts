// Lifecycle of discrepancies and actions in control.discrepancies / control.actions. A
// discrepancy keeps its identity (tenant, entity, match key, class, field) across runs: first
// and last seen, runs_open, status open → resolved (gone at the source) or accepted (by a
// reviewer; stays accepted while it persists). One transaction per tenant × entity and run,
// serialised by an advisory lock so two runs of the same tenant × entity cannot interleave.
// Runs are numbered per tenant × entity (control.entity_runs); a discrepancy an incremental run
// carries forward is not rewritten: control.discrepancies_now derives its last seen run and
// runs_open from the numbers (sql/migrations/0005_entity_runs.sql). Read lifecycle fields there.
import type pg from 'pg';
import { inTransaction } from '../staging/database.js';
import type { Entity } from '../staging/model/entities.js';
import type { Discrepancy } from './classify.js';
import { addDecimal } from './decimal.js';
import type { ExaminedRefs } from './examined.js';
import type { SeenTotals } from './job-protocol.js';
import type { PhaseClock } from './phase-clock.js';
import type { PlannedAction } from './survivorship.js';
import { rowsToPg } from './transfer.js';

export interface WriteInput {
  tenant: string;
  entity: Entity;
  runId: string;
  discrepancies: readonly Discrepancy[];
  /**
   * The run's actions, given the identities (identityOf) of its discrepancies that a reviewer has
   * accepted: they get none. Called inside the transaction, after the discrepancies are upserted
   * (their rows locked), so an acceptance committed while the run was comparing is seen, and one
   * committing later waits for this transaction and then withdraws what it wrote.
   */
  planActions(accepted: ReadonlySet<string>): readonly PlannedAction[];
  policy: 'propose' | 'auto_approve' | 'disabled';
  /**
   * Fills the temp table `trueup_keymatch (crm_id, erp_id)` with the pairs matched by a business
   * key, which are recorded in xref (origin key_match). Runs inside the transaction.
   */
  copyKeyMatches?: (client: pg.PoolClient) => Promise<void>;
  /**
   * Incremental runs: the open discrepancies and undecided actions the run examined (they concern
   * a record of its scope, examined.ts). Open discrepancies not among them are carried forward
   * unchanged; undecided actions not among them are left alone.
   */
  examined?: (client: pg.PoolClient) => Promise<ExaminedRefs>;
  systems: { crm: string; erp: string };
  /** Discrepancies resolved during in-flight confirmation: recorded as resolved. */
  resolvedInFlight: readonly Discrepancy[];
  clock?: PhaseClock;
}

export interface WriteOutput {
  opened: number;
  seen: SeenTotals;
  resolved: number;
  /** Actions the run proposes (before the policy: `disabled` writes none of them). */
  actionsPlanned: number;
  actionsInserted: number;
  actionsSuperseded: number;
}

function toRow(d: Discrepancy) {
  return {
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
  };
}

const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

/** A discrepancy as a CSV row of `trueup_disc` (DISC_COLUMNS). */
function toCsv(d: Discrepancy): (string | null)[] {
  return [
    d.matchKey,
    d.class,
    d.field,
    d.crmId,
    d.erpId,
    json(d.crmValue),
    json(d.erpValue),
    d.currency,
    d.moneyImpact,
    d.material ? 't' : 'f',
    json(d.detail),
  ];
}

const DISC_COLUMNS = `match_key text, class text, field text, crm_id text, erp_id text, crm_value jsonb,
  erp_value jsonb, currency text, money_impact numeric, material boolean, detail jsonb`;

/**
 * Takes the transaction-scoped lock that serialises the writers of a tenant × entity's
 * discrepancies and actions: a run's write (below) and a reviewer's decisions (actions-review.ts,
 * discrepancies.ts acceptDiscrepancies).
 */
export async function lockEntityResults(
  client: pg.ClientBase,
  tenant: string,
  entity: string,
): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [
    tenant,
    `reconcile:${entity}`,
  ]);
}

/**
 * A reviewer's decision about rows of control.discrepancies or control.actions, by id: takes each
 * concerned entity's results lock (lockEntityResults, in entity order), then locks the rows in id
 * order and returns their status as it is under the lock. A run's write locks the same rows in
 * its own order; without the named lock first the two could deadlock. A row's entity never
 * changes, so the entities are read unlocked.
 */
export async function lockForDecision(
  client: pg.ClientBase,
  table: 'discrepancies' | 'actions',
  tenant: string,
  ids: readonly string[],
): Promise<Map<string, string>> {
  const entities = await client.query<{ entity: string }>(
    `SELECT DISTINCT entity FROM control.${table} WHERE tenant_id = $1 AND id = ANY($2::bigint[]) ORDER BY entity`,
    [tenant, ids],
  );
  for (const { entity } of entities.rows) await lockEntityResults(client, tenant, entity);
  const { rows } = await client.query<{ id: string; status: string }>(
    `SELECT id::text, status FROM control.${table} WHERE tenant_id = $1 AND id = ANY($2::bigint[])
      ORDER BY id FOR UPDATE`,
    [tenant, ids],
  );
  return new Map(rows.map((r) => [r.id, r.status]));
}

export async function writeResults(pool: pg.Pool, input: WriteInput): Promise<WriteOutput> {
  const { tenant, entity, runId } = input;
  return inTransaction(pool, async (client) => {
    await lockEntityResults(client, tenant, entity);
    // This run's number for the tenant × entity (carry-forward is derived from it: 0005_entity_runs.sql).
    const numbered = await client.query<{ run_no: string }>(
      `INSERT INTO control.entity_runs (tenant_id, entity, run_no, run_id)
       SELECT $1, $2, coalesce(max(run_no), 0) + 1, $3 FROM control.entity_runs WHERE tenant_id = $1 AND entity = $2
       RETURNING run_no::text`,
      [tenant, entity, runId],
    );
    const runNo = numbered.rows[0]!.run_no;
    // The run's discrepancies arrive by COPY (thousands of rows when many records changed).
    await client.query(`CREATE TEMP TABLE trueup_disc (${DISC_COLUMNS}) ON COMMIT DROP`);
    await rowsToPg(
      client,
      'trueup_disc (match_key, class, field, crm_id, erp_id, crm_value, erp_value, currency, money_impact, material, detail)',
      input.discrepancies.map(toCsv),
    );
    const up = await client.query<{ inserted: boolean; accepted: string | null }>(
      `INSERT INTO control.discrepancies AS d (tenant_id, entity, match_key, class, field, crm_id, erp_id, crm_value,
          erp_value, currency, money_impact, material, first_seen_run, last_seen_run, last_seen_no, detail)
       SELECT $1, $2, x.match_key, x.class, x.field, x.crm_id, x.erp_id, x.crm_value, x.erp_value, x.currency,
              x.money_impact, x.material, $3, $3, $4, x.detail
         FROM trueup_disc x
       ON CONFLICT (tenant_id, entity, match_key, class, field) DO UPDATE SET
         crm_id = EXCLUDED.crm_id, erp_id = EXCLUDED.erp_id, crm_value = EXCLUDED.crm_value,
         erp_value = EXCLUDED.erp_value, currency = EXCLUDED.currency, money_impact = EXCLUDED.money_impact,
         material = EXCLUDED.material, detail = EXCLUDED.detail,
         -- Open through every run since it was last examined (carried forward), and this one.
         runs_open = CASE WHEN d.status = 'resolved' THEN 1
                          ELSE d.runs_open + greatest(0, EXCLUDED.last_seen_no - d.last_seen_no)::int END,
         last_seen_no = EXCLUDED.last_seen_no,
         first_seen_run = CASE WHEN d.status = 'resolved' THEN EXCLUDED.first_seen_run ELSE d.first_seen_run END,
         first_seen = CASE WHEN d.status = 'resolved' THEN now() ELSE d.first_seen END,
         status = CASE WHEN d.status = 'accepted' THEN 'accepted' ELSE 'open' END,
         last_seen_run = EXCLUDED.last_seen_run, last_seen = now(), resolved_at = NULL
       RETURNING (xmax = 0) AS inserted,
                 CASE WHEN d.status = 'accepted' THEN d.class || '|' || d.match_key || '|' || d.field END AS accepted`,
      [tenant, entity, runId, runNo],
    );
    input.clock?.mark('write.upsert');
    const examined = input.examined ? await input.examined(client) : undefined;
    // An open discrepancy this run did not see is gone at the source: in a full run, any of the
    // entity's; in an incremental run, one it examined (the others concern records nothing
    // changed around: they still hold and are carried forward — nothing is written for them,
    // control.discrepancies_now derives it). Resolving writes down what carrying forward implied:
    // open through the run before this one.
    input.clock?.mark('write.examined');
    const resolved = await client.query(
      `UPDATE control.discrepancies d SET status = 'resolved', resolved_at = now(),
          runs_open = d.runs_open + greatest(0, $4::bigint - 1 - d.last_seen_no)::int,
          last_seen_run = coalesce(p.run_id, d.last_seen_run), last_seen = coalesce(p.at, d.last_seen),
          last_seen_no = greatest(d.last_seen_no, $4::bigint - 1)
         FROM (SELECT 1) one
         LEFT JOIN control.entity_runs p ON p.tenant_id = $1 AND p.entity = $2 AND p.run_no = $4::bigint - 1
        WHERE d.tenant_id = $1 AND d.entity = $2 AND d.status IN ('open', 'accepted') AND d.last_seen_run <> $3
          AND ($5::bigint[] IS NULL OR d.id = ANY ($5::bigint[]))`,
      [tenant, entity, runId, runNo, examined?.discrepancies ?? null],
    );
    // Resolved in flight: recorded as resolved, with the run that saw them go, so a reviewer can
    // tell a fix that raced the run from one made at the source earlier.
    if (input.resolvedInFlight.length)
      await client.query(
        `INSERT INTO control.discrepancies AS d (tenant_id, entity, match_key, class, field, crm_id, erp_id, crm_value,
            erp_value, currency, money_impact, material, first_seen_run, last_seen_run, last_seen_no, detail, status,
            resolved_at)
         SELECT $1, $2, x.match_key, x.class, x.field, x.crm_id, x.erp_id, x.crm_value, x.erp_value, x.currency,
                x.money_impact, x.material, $3, $3, $5,
                coalesce(x.detail, '{}'::jsonb) || jsonb_build_object('resolvedInFlight', $3::text), 'resolved', now()
           FROM jsonb_to_recordset($4::jsonb) AS x(match_key text, class text, field text, crm_id text, erp_id text,
                crm_value jsonb, erp_value jsonb, currency text, money_impact numeric, material boolean, detail jsonb)
         ON CONFLICT (tenant_id, entity, match_key, class, field) DO UPDATE SET
           status = 'resolved', resolved_at = coalesce(d.resolved_at, now()),
           detail = coalesce(d.detail, '{}'::jsonb) || jsonb_build_object('resolvedInFlight', $3::text)`,
        [tenant, entity, runId, JSON.stringify(input.resolvedInFlight.map(toRow)), runNo],
      );

    const actions = input.planActions(new Set(up.rows.flatMap((r) => (r.accepted ? [r.accepted] : []))));
    let actionsInserted = 0;
    input.clock?.mark('write.resolve');
    let actionsSuperseded = 0;
    if (input.policy !== 'disabled') {
      const status = input.policy === 'auto_approve' ? 'approved' : 'proposed';
      await client.query(
        `CREATE TEMP TABLE trueup_act (target_system text, target_id text, kind text, fields jsonb,
           explanation jsonb, observed_version bigint, idempotency_key text) ON COMMIT DROP`,
      );
      await rowsToPg(
        client,
        'trueup_act (target_system, target_id, kind, fields, explanation, observed_version, idempotency_key)',
        actions.map((a) => [
          a.targetSystem,
          a.targetId,
          a.kind,
          JSON.stringify(a.fields),
          JSON.stringify(a.explanation),
          a.observedVersion,
          a.idempotencyKey,
        ]),
      );
      const ins = await client.query(
        `INSERT INTO control.actions (tenant_id, run_id, entity, target_system, target_id, kind, fields, explanation,
            observed_version, idempotency_key, status, decided_by, decided_at)
         SELECT $1, $2, $3, x.target_system, x.target_id, x.kind, x.fields, x.explanation, x.observed_version,
                x.idempotency_key, $4, CASE WHEN $4 = 'approved' THEN 'policy:auto_approve' END,
                CASE WHEN $4 = 'approved' THEN now() END
           FROM trueup_act x
         ON CONFLICT (tenant_id, idempotency_key) DO UPDATE SET
           status = EXCLUDED.status, run_id = EXCLUDED.run_id, explanation = EXCLUDED.explanation,
           decided_by = EXCLUDED.decided_by, decided_at = EXCLUDED.decided_at, error = NULL
         -- A decision (approved by a reviewer, rejected, applied, failed) is never overwritten. Only
         -- an action an earlier run itself made stale comes back: the same correction of the same
         -- observed version is needed again (the difference went away and returned).
         WHERE control.actions.status = 'skipped_stale' AND control.actions.error LIKE 'superseded by run %'`,
        [tenant, runId, entity, status],
      );
      actionsInserted = ins.rowCount ?? 0;
      // Undecided actions of earlier runs that this run no longer proposes are stale — among the
      // records it examined (an incremental run leaves the others' actions alone).
      const sup = await client.query(
        `UPDATE control.actions a SET status = 'skipped_stale', error = 'superseded by run ' || $3
          WHERE a.tenant_id = $1 AND a.entity = $2 AND a.status IN ('proposed', 'approved') AND a.run_id <> $3
            AND NOT EXISTS (SELECT 1 FROM unnest($4::text[]) AS k(key) WHERE k.key = a.idempotency_key)
            AND ($5::bigint[] IS NULL OR a.id = ANY ($5::bigint[]))`,
        [tenant, entity, runId, actions.map((a) => a.idempotencyKey), examined?.actions ?? null],
      );
      actionsSuperseded = sup.rowCount ?? 0;
    }
    input.clock?.mark('write.actions');
    if (input.copyKeyMatches) {
      await client.query('CREATE TEMP TABLE trueup_keymatch (crm_id text, erp_id text) ON COMMIT DROP');
      await input.copyKeyMatches(client);
      await client.query(
        `INSERT INTO control.xref (tenant_id, entity, crm_system, crm_id, erp_system, erp_id, origin, created_by)
         SELECT $1, $2, $3, k.crm_id, $4, k.erp_id, 'key_match', 'reconcile ' || $5 FROM trueup_keymatch k
         ON CONFLICT DO NOTHING`,
        [tenant, entity, input.systems.crm, input.systems.erp, runId],
      );
    }
    input.clock?.mark('write.keymatch');
    return {
      opened: up.rows.filter((r) => r.inserted).length,
      // After the resolution every live discrepancy of the entity is seen by this run.
      seen: await seenTotals(client, tenant, entity),
      resolved: resolved.rowCount ?? 0,
      actionsPlanned: actions.length,
      actionsInserted,
      actionsSuperseded,
    };
  });
}

async function seenTotals(client: pg.PoolClient, tenant: string, entity: Entity): Promise<SeenTotals> {
  const { rows } = await client.query<{
    class: string;
    currency: string | null;
    n: number;
    material: number;
    accepted: number;
    accepted_material: number;
    impact: string | null;
  }>(
    `SELECT class, currency::text, count(*)::int AS n, count(*) FILTER (WHERE material)::int AS material,
            count(*) FILTER (WHERE status = 'accepted')::int AS accepted,
            count(*) FILTER (WHERE status = 'accepted' AND material)::int AS accepted_material,
            sum(money_impact)::text AS impact
       FROM control.discrepancies
      WHERE tenant_id = $1 AND entity = $2 AND status IN ('open', 'accepted')
      GROUP BY class, currency`,
    [tenant, entity],
  );
  const out: SeenTotals = {
    counts: {},
    discrepancies: 0,
    material: 0,
    accepted: 0,
    acceptedMaterial: 0,
    moneyVariance: {},
  };
  for (const r of rows) {
    out.counts[r.class] = (out.counts[r.class] ?? 0) + r.n;
    out.discrepancies += r.n;
    out.material += r.material;
    out.accepted += r.accepted;
    out.acceptedMaterial += r.accepted_material;
    if (r.currency && r.impact && r.impact !== '0')
      out.moneyVariance[r.currency] = addDecimal(out.moneyVariance[r.currency] ?? '0', r.impact);
  }
  return out;
}

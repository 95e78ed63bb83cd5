// Signing a tenant's period off (`trueup close`): refused while a material discrepancy of the
// period is open and not accepted (naming them), while the tenant has no finished reconcile run,
// or when its latest run failed; otherwise recorded with the run it was signed against and the
// discrepancies of the period live then, in one transaction with its audit row. A refused
// attempt is audited too. Every entity's results lock is held while checking and recording, so a
// run writing its results cannot slip a material discrepancy in between.
import type pg from 'pg';
import type { AuditAction } from '../staging/control/audit.js';
import { clientDb } from '../staging/control/control-db.js';
import { lockEntityResults } from '../staging/control/entity-results-lock.js';
import { inTransaction } from '../staging/database.js';
import { ENTITIES } from '../staging/model/entities.js';
import { TrueupError } from '../staging/model/errors.js';
import { loadSignoffs } from './close-period.js';
import { addTo } from './decimal-sum.js';
import { type LoadedDiscrepancy, loadDiscrepancies } from './load-discrepancies.js';
import { latestRunId, loadRun } from './load-run.js';
import type { Signoff } from './report-model.js';
import type { ClosePeriod } from './report-period.js';

export class CloseRefusedError extends TrueupError {
  override name = 'CloseRefusedError';
  constructor(
    message: string,
    readonly tenant: string,
    readonly period: string,
    /** The open material discrepancies that block the sign-off (empty for other reasons). */
    readonly blocking: readonly LoadedDiscrepancy[],
  ) {
    super(message, { kind: 'terminal', subject: { tenant } });
  }
}

export interface SignoffInput {
  tenant: string;
  systems: { crm: string; erp: string };
  period: ClosePeriod;
  by: string;
  note?: string;
}

const LISTED = 20;

/** `412 (invoice missing_in_erp C:0015…: 5000.00 USD)`: enough to find it and to weigh it. */
function describe(d: LoadedDiscrepancy): string {
  const amount = d.moneyImpact === null ? '' : `: ${d.moneyImpact}${d.currency ? ` ${d.currency}` : ''}`;
  return `${d.id} (${d.entity} ${d.class}${d.field ? ` ${d.field}` : ''} ${d.matchKey}${amount})`;
}

export async function signOffPeriod(pool: pg.Pool, input: SignoffInput): Promise<Signoff> {
  const { tenant } = input;
  const period = input.period.period;
  const by = input.by.trim();
  if (!by) throw new CloseRefusedError('a sign-off needs the name of who signs (--by)', tenant, period, []);
  try {
    return await inTransaction(pool, async (client) => {
      const db = clientDb(client);
      for (const entity of [...ENTITIES].sort()) await lockEntityResults(db, tenant, entity);
      const runId = await latestRunId(client, tenant);
      if (!runId)
        throw new CloseRefusedError(
          `tenant ${tenant} has no finished reconcile run: reconcile before signing off ${period}`,
          tenant,
          period,
          [],
        );
      const run = await loadRun(client, tenant, runId);
      if (run.status !== 'succeeded')
        throw new CloseRefusedError(
          `the latest reconcile run of tenant ${tenant} (${runId}) ${run.status}${run.error ? `: ${run.error}` : ''} — reconcile again before signing off ${period}`,
          tenant,
          period,
          [],
        );
      const live = await loadDiscrepancies(client, {
        tenant,
        systems: input.systems,
        runId: null,
        entities: ENTITIES,
        period: input.period,
      });
      const blocking = live.filter((d) => d.material && d.status === 'open');
      if (blocking.length)
        throw new CloseRefusedError(
          `cannot sign off ${period} of tenant ${tenant}: ${blocking.length} material discrepanc${
            blocking.length === 1 ? 'y is' : 'ies are'
          } open and not accepted: ${blocking.slice(0, LISTED).map(describe).join(', ')}${
            blocking.length > LISTED ? ` and ${blocking.length - LISTED} more` : ''
          } — accept them (trueup discrepancies accept) or correct them and reconcile`,
          tenant,
          period,
          blocking,
        );
      const money = new Map<string, string>();
      for (const d of live) if (d.currency && d.moneyImpact !== null) addTo(money, d.currency, d.moneyImpact);
      const totals = {
        discrepancies: live.length,
        open: live.filter((d) => d.status === 'open').length,
        accepted: live.filter((d) => d.status === 'accepted').length,
        material: live.filter((d) => d.material).length,
        acceptedMaterialIds: live.filter((d) => d.material && d.status === 'accepted').map((d) => d.id),
        moneyAtStake: Object.fromEntries(money),
      };
      const { rows } = await client.query<{ id: string }>(
        `INSERT INTO control.close_signoffs (tenant_id, period, signed_by, run_id, note, discrepancy_ids, totals)
         VALUES ($1, $2, $3, $4, $5, $6::bigint[], $7::jsonb) RETURNING id::text`,
        [tenant, period, by, runId, input.note ?? null, live.map((d) => d.id), JSON.stringify(totals)],
      );
      const id = rows[0]!.id;
      await client.query(
        `INSERT INTO control.audit (tenant_id, actor, action, subject, detail)
         VALUES ($1, $2, $3, $4, $5::jsonb)`,
        [
          tenant,
          by,
          'close.signoff' satisfies AuditAction,
          `period:${period}`,
          JSON.stringify({ signoff: id, runId, note: input.note ?? null, totals }),
        ],
      );
      const signed = (await loadSignoffs(client, tenant, period)).find((s) => s.id === id);
      return signed!;
    });
  } catch (err) {
    if (err instanceof CloseRefusedError && by)
      await pool.query(
        `INSERT INTO control.audit (tenant_id, actor, action, subject, detail)
         VALUES ($1, $2, $3, $4, $5::jsonb)`,
        [
          tenant,
          by,
          'close.refuse' satisfies AuditAction,
          `period:${period}`,
          JSON.stringify({
            reason: err.message,
            blocking: err.blocking.slice(0, 100).map((d) => d.id),
            count: err.blocking.length,
          }),
        ],
      );
    throw err;
  }
}

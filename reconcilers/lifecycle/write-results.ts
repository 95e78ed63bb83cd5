// A run's write of one tenant × entity's results to the control tables, in one transaction under
// the entity's results lock: the run's number, the discrepancies it saw (upserted, their rows
// locked, so an acceptance committed meanwhile is seen), those gone (resolved), those gone in
// flight, its actions (under the tenant's policy) and the undecided ones it supersedes, the pairs
// it matched by a business key. The lifecycles are in staging/control/*-states.ts.
import type pg from 'pg';
import { insertRunActions, supersedeActions } from '../../staging/control/actions.js';
import { clientDb } from '../../staging/control/control-db.js';
import {
  liveCounts,
  recordGoneInFlight,
  resolveGone,
  upsertSeen,
} from '../../staging/control/discrepancies.js';
import { lockEntityResults } from '../../staging/control/entity-results-lock.js';
import { numberEntityRun } from '../../staging/control/runs.js';
import { recordKeyMatches } from '../../staging/control/xref.js';
import type { Entity } from '../../staging/model/entities.js';
import { withTenantScope } from '../../staging/tenant-scope.js';
import type { PlannedAction } from '../actions/plan-actions.js';
import type { Discrepancy } from '../classify/classify.js';
import { addDecimal } from '../classify/decimal.js';
import type { PhaseClock } from '../job/phase-clock.js';
import type { SeenTotals } from '../pool/job-protocol.js';
import type { ExaminedRefs } from './examined.js';

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
  copyKeyMatches?: (client: pg.ClientBase) => Promise<void>;
  /**
   * Incremental runs: the open discrepancies and undecided actions the run examined (they concern
   * a record of its scope, examined.ts). Open discrepancies not among them are carried forward
   * unchanged; undecided actions not among them are left alone.
   */
  examined?: (client: pg.ClientBase) => Promise<ExaminedRefs>;
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

export async function writeResults(pool: pg.Pool, input: WriteInput): Promise<WriteOutput> {
  const { tenant, entity, runId } = input;
  return withTenantScope(pool, tenant, async (client) => {
    const db = clientDb(client);
    await lockEntityResults(db, tenant, entity);
    const run = { tenant, entity, runId, runNo: await numberEntityRun(db, { tenant, entity, runId }) };
    const up = await upsertSeen(client, run, input.discrepancies);
    input.clock?.mark('write.upsert');
    const examined = input.examined ? await input.examined(client) : undefined;
    input.clock?.mark('write.examined');
    const resolved = await resolveGone(db, run, examined?.discrepancies ?? null);
    await recordGoneInFlight(db, run, input.resolvedInFlight);
    const actions = input.planActions(up.accepted);
    input.clock?.mark('write.resolve');
    let actionsInserted = 0;
    let actionsSuperseded = 0;
    if (input.policy !== 'disabled') {
      actionsInserted = await insertRunActions(
        client,
        run,
        input.policy === 'auto_approve' ? 'approved' : 'proposed',
        actions,
      );
      actionsSuperseded = await supersedeActions(
        db,
        run,
        actions.map((a) => a.idempotencyKey),
        examined?.actions ?? null,
      );
    }
    input.clock?.mark('write.actions');
    if (input.copyKeyMatches)
      await recordKeyMatches(
        client,
        { tenant, entity, runId, crmSystem: input.systems.crm, erpSystem: input.systems.erp },
        input.copyKeyMatches,
      );
    input.clock?.mark('write.keymatch');
    return {
      opened: up.inserted,
      // After the resolution every live discrepancy of the entity is seen by this run.
      seen: seenTotals(await liveCounts(db, tenant, entity)),
      resolved,
      actionsPlanned: actions.length,
      actionsInserted,
      actionsSuperseded,
    };
  });
}

function seenTotals(counts: Awaited<ReturnType<typeof liveCounts>>): SeenTotals {
  const out: SeenTotals = {
    counts: {},
    discrepancies: 0,
    material: 0,
    accepted: 0,
    acceptedMaterial: 0,
    moneyVariance: {},
  };
  for (const r of counts) {
    out.counts[r.class] = (out.counts[r.class] ?? 0) + r.n;
    out.discrepancies += r.n;
    out.material += r.material;
    out.accepted += r.accepted;
    out.acceptedMaterial += r.acceptedMaterial;
    if (r.currency && r.impact && r.impact !== '0')
      out.moneyVariance[r.currency] = addDecimal(out.moneyVariance[r.currency] ?? '0', r.impact);
  }
  return out;
}

// A run's write of one tenant × entity's results to the control tables, in one transaction under
// the entity's results lock: the run's number, the discrepancies it saw (upserted, their rows
// locked, so an acceptance committed meanwhile is seen), those gone (resolved), those gone in
// flight, its actions (under the tenant's policy) and the undecided ones it supersedes, the pairs
// it matched by a business key. The lifecycles are in staging/control/*-states.ts. A run with many
// differing pairs hands its findings over in chunks (`chunks`): each is upserted and its actions
// planned and inserted before the next is read, so the write never holds them all.
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

/**
 * Writes one chunk of a run's findings: upserts them, then inserts the actions `planActions`
 * plans for them given which of them a reviewer has accepted (see WriteInput.planActions).
 */
export type ChunkWriter = (
  discrepancies: readonly Discrepancy[],
  planActions: (accepted: ReadonlySet<string>) => readonly PlannedAction[],
) => Promise<void>;

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
   * More of the run's findings, produced inside the transaction and handed to `write` one chunk
   * at a time (before `discrepancies`, which then hold the rest). Chunks must not share an
   * identity with each other or with `discrepancies`.
   */
  chunks?: (write: ChunkWriter) => Promise<void>;
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
    const status = input.policy === 'auto_approve' ? 'approved' : 'proposed';
    let opened = 0;
    let actionsPlanned = 0;
    let actionsInserted = 0;
    // The idempotency keys of every action the run proposes: the undecided ones of earlier runs
    // not among them are superseded at the end (one short string per action, the one part of a
    // chunked write that grows with the findings).
    const keys = new Set<string>();
    if (input.chunks)
      await input.chunks(async (found, plan) => {
        const up = await upsertSeen(client, run, found);
        opened += up.inserted;
        input.clock?.mark('write.upsert');
        // Pairs of different chunks may ask one record for the same correction (many-to-one
        // links): it is one action, as when all pairs are planned at once (plan-actions.ts).
        const actions = plan(up.accepted).filter((a) => !keys.has(a.idempotencyKey));
        actionsPlanned += actions.length;
        for (const a of actions) keys.add(a.idempotencyKey);
        if (input.policy !== 'disabled' && actions.length)
          actionsInserted += await insertRunActions(client, run, status, actions);
        // upsertSeen and insertRunActions each fill a temp table of their own that lives until
        // the commit: the next chunk creates it anew.
        await client.query('DROP TABLE IF EXISTS pg_temp.trueup_disc, pg_temp.trueup_act');
        input.clock?.mark('write.actions');
      });
    const up = await upsertSeen(client, run, input.discrepancies);
    opened += up.inserted;
    input.clock?.mark('write.upsert');
    const examined = input.examined ? await input.examined(client) : undefined;
    input.clock?.mark('write.examined');
    const resolved = await resolveGone(db, run, examined?.discrepancies ?? null);
    await recordGoneInFlight(db, run, input.resolvedInFlight);
    const actions = input.planActions(up.accepted);
    actionsPlanned += actions.length;
    for (const a of actions) keys.add(a.idempotencyKey);
    input.clock?.mark('write.resolve');
    let actionsSuperseded = 0;
    if (input.policy !== 'disabled') {
      actionsInserted += await insertRunActions(client, run, status, actions);
      actionsSuperseded = await supersedeActions(db, run, [...keys], examined?.actions ?? null);
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
      opened,
      // After the resolution every live discrepancy of the entity is seen by this run.
      seen: seenTotals(await liveCounts(db, tenant, entity)),
      resolved,
      actionsPlanned,
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

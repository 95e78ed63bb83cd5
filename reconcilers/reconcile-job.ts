// One reconcile job: tenant × entity, on a worker thread with its own DuckDB. Refresh the mirror
// (and the local copy of xref) → incremental scope → match → compare → classify → confirm in
// flight → survivorship and actions → write discrepancies, actions and key-match links to
// Postgres → remember how far this run got.
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { classifyPass, type Discrepancy, identityOf } from './classify.js';
import { comparePass, type PassResult } from './compare.js';
import { confirmInFlight } from './confirm.js';
import { connectDuck } from './duck.js';
import { examinedRefs } from './examined.js';
import { type JobResult, mirrorFile, type ReconcileJob, type TenantSlice } from './job-protocol.js';
import type { JobResources } from './job-resources.js';
import { writeResults } from './lifecycle.js';
import { MIRROR_SOURCE, resolveMatches } from './matching.js';
import { clearPrev, getMeta, mirrorLayout, refreshMirror, saveMeta } from './mirror.js';
import { syncXref } from './mirror-xref.js';
import { PhaseClock } from './phase-clock.js';
import { closeScope, incrementalSeeds, scopeSource } from './scope.js';
import { type PlannedAction, planCreateActions, planPairActions } from './survivorship.js';
import { duckToPg, Scratch } from './transfer.js';

const hash = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);

/** An incremental scope larger than this share of the mirror costs more than a full run. */
const MAX_SCOPE_SHARE = 0.5;

/** Actions for the discrepancies that stand (identities in `keep`), from the pass that found them. */
function planActions(job: ReconcileJob, pass: PassResult, keep: ReadonlySet<string>): PlannedAction[] {
  const slice: TenantSlice = job.config;
  const diffs = pass.diffs
    .map((d) => ({
      ...d,
      fields: d.fields.filter((f) =>
        keep.has(
          identityOf({
            class: 'field_mismatch',
            matchKey: `C:${d.crm.source_id}|E:${d.erp.source_id}`,
            field: f,
          }),
        ),
      ),
    }))
    .filter((d) => d.fields.length);
  const lone = pass.lone.filter((r) =>
    keep.has(
      r.side === 'crm'
        ? identityOf({ class: 'missing_in_erp', matchKey: `C:${r.source_id}`, field: '' })
        : identityOf({ class: 'missing_in_crm', matchKey: `E:${r.source_id}`, field: '' }),
    ),
  );
  return [
    ...planPairActions(job.entity, slice, job.tenant, diffs),
    ...planCreateActions(job.entity, slice, job.tenant, lone),
  ];
}

/** Test seam: runs right after the mirror refresh, inside the job's DuckDB transaction. */
export const jobHooks: { afterRefresh?: (job: ReconcileJob) => Promise<void> } = {};

/** Sum of the phases whose names start with one of `prefixes` (the coarse timings). */
function sum(phases: Record<string, number>, ...prefixes: string[]): number {
  let ms = 0;
  for (const [k, v] of Object.entries(phases)) if (prefixes.some((p) => k.startsWith(p))) ms += v;
  return Math.round(ms);
}

export async function runReconcileJob(job: ReconcileJob, resources: JobResources): Promise<JobResult> {
  const pc = new PhaseClock();
  const { entity, tenant } = job;
  const cfg = job.config.entity;
  const layout = mirrorLayout(entity, cfg);
  await mkdir(job.mirrorDir, { recursive: true });
  const lease = await resources.acquire(mirrorFile(job), job.duckdbThreads);
  pc.mark('open.mirror');
  let healthy = false;
  const duck = await connectDuck(lease.instance).catch((err) => {
    lease.release(false);
    throw err;
  });
  pc.mark('open.connect');
  const scratch = await new Scratch(join(job.mirrorDir, `${entity}.work`)).open();
  const pool = resources.pgPool(job.stagingUrl, Math.max(2, job.copyRanges ?? 2) + 1);
  pc.mark('open.scratch');
  // One DuckDB transaction for the whole job: the refresh, the scope, the bookkeeping. It commits
  // after the results are in Postgres; a job that fails leaves the mirror as it found it.
  await duck.run('BEGIN TRANSACTION');
  let open = true;
  try {
    const refresh = await refreshMirror(duck, pool, job, layout, scratch, pc);
    await syncXref(duck, pool, job, scratch);
    pc.mark('refresh.xref');
    await jobHooks.afterRefresh?.(job);

    // Every config input the results depend on — the whole tenant slice: the entity's match,
    // compare and survivorship rules, the systems, materiality (stored per discrepancy, not
    // rewritten when carried forward) and the actions policy. A change makes the next run full.
    const configHash = hash(job.config);
    const lastRunSeq = await getMeta(duck, 'last_run_seq');
    let incremental =
      job.mode === 'incremental' &&
      !refresh.cold &&
      lastRunSeq !== undefined &&
      (await getMeta(duck, 'config_hash')) === configHash;
    let scope = { crm: 0, erp: 0 };
    if (incremental) {
      const xrefChanged = await duck.rows<{ n: bigint }>('SELECT count(*) AS n FROM xref_changed');
      scope = await closeScope(
        duck,
        cfg,
        layout,
        '',
        incrementalSeeds(BigInt(lastRunSeq!), Number(xrefChanged[0]?.n ?? 0) > 0),
        pc,
      );
      if (scope.crm + scope.erp > refresh.rows * MAX_SCOPE_SHARE) incremental = false;
    }
    await resolveMatches(duck, cfg, layout, incremental ? scopeSource('') : MIRROR_SOURCE, '');
    pc.mark('match');

    const pass = await comparePass(duck, pool, job, '', scratch, pc);
    const found = classifyPass(entity, job.config, pass);
    pc.mark('classify');

    const confirmation = await confirmInFlight(duck, pool, job, layout, found, pass, scratch);
    pc.mark('confirm');

    const kept: Discrepancy[] = confirmation.kept;
    pc.mark('actions');
    const written = await writeResults(pool, {
      tenant,
      entity,
      runId: job.runId,
      discrepancies: kept,
      // An accepted discrepancy (a reviewer agreed the difference stands) gets no correction: its
      // earlier undecided actions are then no longer proposed and become skipped_stale.
      planActions: (accepted) =>
        planActions(job, confirmation.pass, new Set(kept.map(identityOf).filter((id) => !accepted.has(id)))),
      policy: job.config.actions.policy,
      systems: job.config.systems,
      resolvedInFlight: confirmation.resolvedInFlight,
      clock: pc,
      copyKeyMatches: (client) =>
        duckToPg(
          duck,
          'SELECT crm_id, erp_id FROM pairs WHERE lvl > 0',
          client,
          'trueup_keymatch (crm_id, erp_id)',
          scratch.file('keymatch'),
        ),
      ...(incremental ? { examined: (client) => examinedRefs(duck, client, job, scratch) } : {}),
    });
    pc.mark('write');
    // Everything staged up to the first refresh has now been examined; rows that the
    // confirmation's refresh brought in are examined by the next run.
    await clearPrev(duck, refresh.lastSeq);
    await saveMeta(duck, { last_run_seq: refresh.lastSeq.toString(), config_hash: configHash });
    await duck.run('COMMIT');
    open = false;
    // A rebuilt mirror is written out now. A delta is small: it stays in DuckDB's write-ahead
    // log until DuckDB checkpoints on its own or the mirror is closed.
    if (refresh.cold) await duck.run('CHECKPOINT');
    pc.mark('meta');
    healthy = true;
    const ph = pc.phases;
    return {
      tenant,
      entity,
      mode: incremental ? 'incremental' : 'full',
      mirror: {
        cold: refresh.cold,
        rowsCopied: refresh.rowsCopied,
        rows: refresh.rows,
        lastSeq: (confirmation.refresh?.lastSeq ?? refresh.lastSeq).toString(),
        contentHash: refresh.contentHash,
      },
      scope,
      pairs: pass.pairs,
      wideRows: pass.wideRows,
      ...written.seen,
      actions: job.config.actions.policy === 'disabled' ? 0 : written.actionsPlanned,
      resolved: written.resolved,
      resolvedInFlight: confirmation.resolvedInFlight.length,
      confirmation: confirmation.state,
      timings: {
        refreshMs: sum(ph, 'open', 'refresh'),
        matchMs: sum(ph, 'scope', 'match'),
        compareMs: sum(ph, 'compare', 'classify'),
        confirmMs: sum(ph, 'confirm'),
        writeMs: sum(ph, 'actions', 'write', 'meta'),
        totalMs: pc.total(),
        phases: ph,
      },
    };
  } finally {
    if (open) await duck.run('ROLLBACK').catch(() => {});
    duck.close();
    lease.release(healthy);
    await scratch.close();
    pc.mark('close');
  }
}

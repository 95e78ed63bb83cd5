// One reconcile job (tenant × entity) on a worker thread with its own DuckDB, its stages in order:
// refresh the mirror and its copy of xref → the open dead letters of each side and the links of the
// referenced entities → incremental scope → match → compare (references through those links) → classify →
// confirm in flight → survivorship and actions → write discrepancies, actions and key-match links
// to Postgres → remember how far this run got. docs/reconcile.md tells the whole story. Unless
// the run must confirm in flight, the differing pairs stay in DuckDB and are compared, classified
// and written a chunk at a time (compare-pass.ts diffChunks), so memory does not grow with them.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { planActions } from '../actions/plan-actions.js';
import { classifyPass, type Discrepancy, fieldMismatches, identityOf } from '../classify/classify.js';
import { comparePass, diffChunks } from '../compare/compare-pass.js';
import { connectDuck, type Duck } from '../duckdb/duck.js';
import { narrowFiles, privateDir } from '../duckdb/private-files.js';
import { duckToPg, Scratch } from '../duckdb/transfer.js';
import { examinedRefs } from '../lifecycle/examined.js';
import { writeResults } from '../lifecycle/write-results.js';
import { deadLetterSeeds, loadDeadLetters } from '../match/dead-letters.js';
import { trackReferences } from '../match/reference-scope.js';
import { MIRROR_SOURCE, resolveMatches } from '../match/resolve-matches.js';
import { closeScope, incrementalSeeds, scopeSource } from '../match/scope.js';
import { mirrorLayout } from '../mirror/mirror-layout.js';
import { clearPrev, getMeta, saveMeta } from '../mirror/mirror-meta.js';
import { syncXref } from '../mirror/mirror-xref.js';
import { refreshMirror } from '../mirror/refresh-mirror.js';
import {
  type Completeness,
  type JobResult,
  mirrorFile,
  type ReconcileJob,
  type SideCompleteness,
} from '../pool/job-protocol.js';
import type { JobResources } from '../pool/job-resources.js';
import { type Confirmation, confirmationNeeded, confirmInFlight } from './confirm-in-flight.js';
import type { JobContext } from './job-context.js';
import { PhaseClock } from './phase-clock.js';

const hash = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);

/** An incremental scope larger than this share of the mirror costs more than a full run. */
const MAX_SCOPE_SHARE = 0.5;

/** Test seam: runs right after the mirror refresh, inside the job's DuckDB transaction. */
export const jobHooks: { afterRefresh?: (job: ReconcileJob, duck: Duck) => Promise<void> } = {};

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
  await privateDir(job.mirrorDir);
  const lease = await resources.acquire(mirrorFile(job), job.duckdbThreads, job.duckdbMemoryLimit);
  pc.mark('open.mirror');
  let healthy = false;
  const duck = await connectDuck(lease.instance).catch((err) => {
    lease.release(false);
    throw err;
  });
  pc.mark('open.connect');
  const scratch = await new Scratch(join(job.mirrorDir, `${entity}.work`)).open();
  const pool = resources.pgPool(job.stagingUrl, Math.max(2, job.copyRanges ?? 2) + 1);
  const cx: JobContext = { job, duck, pool, layout, scratch, deadLetters: { crm: 0, erp: 0 } };
  pc.mark('open.scratch');
  // One DuckDB transaction for the whole job: the refresh, the scope, the bookkeeping. It commits
  // after the results are in Postgres; a job that fails leaves the mirror as it found it.
  await duck.run('BEGIN TRANSACTION');
  let open = true;
  try {
    const refresh = await refreshMirror(cx, { examinedBy: 'this-job', clock: pc });
    await syncXref(cx);
    pc.mark('refresh.xref');
    await jobHooks.afterRefresh?.(job, duck);
    // Before matching: what each side could not stage (issue 12).
    Object.assign(cx.deadLetters, await loadDeadLetters(cx));
    pc.mark('refresh.deadletters');

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
    // The referenced entities' links: their copies are kept up to date by every run, and what
    // changed since the last run seeds an incremental one.
    const references = await trackReferences(cx, incremental);
    if (references.full) incremental = false;
    pc.mark('refresh.references');
    let scope = { crm: 0, erp: 0 };
    if (incremental) {
      const xrefChanged = await duck.rows<{ n: bigint }>('SELECT count(*) AS n FROM xref_changed');
      const deadLetters = await deadLetterSeeds(cx, Number((await getMeta(duck, 'unverifiable')) ?? 0));
      scope = await closeScope(
        cx,
        '',
        incrementalSeeds(BigInt(lastRunSeq!), Number(xrefChanged[0]?.n ?? 0) > 0, (side) => [
          ...deadLetters(side),
          ...references.seeds(side),
        ]),
        pc,
      );
      if (scope.crm + scope.erp > refresh.rows * MAX_SCOPE_SHARE) incremental = false;
    }
    await resolveMatches(cx, incremental ? scopeSource('') : MIRROR_SOURCE, '');
    pc.mark('match');

    // In-flight confirmation decides all findings again at once, so it needs them all in memory;
    // without it (no live source stream) the differing pairs are streamed.
    const stream = !(await confirmationNeeded(cx));
    const pass = await comparePass(cx, '', pc, { stream });
    // A streamed pass: everything but the differing pairs (those come chunk by chunk below).
    const found = classifyPass(entity, job.config, pass);
    pc.mark('classify');

    const confirmation: Confirmation = stream
      ? { kept: found, resolvedInFlight: [], state: 'not_needed', pass }
      : await confirmInFlight(cx, found, pass);
    pc.mark('confirm');

    const kept: Discrepancy[] = confirmation.kept;
    // An accepted discrepancy (a reviewer agreed the difference stands) gets no correction: its
    // earlier undecided actions are then no longer proposed and become skipped_stale.
    const unaccepted = (ds: readonly Discrepancy[], accepted: ReadonlySet<string>) =>
      new Set(ds.map(identityOf).filter((id) => !accepted.has(id)));
    pc.mark('actions');
    const written = await writeResults(pool, {
      tenant,
      entity,
      runId: job.runId,
      discrepancies: kept,
      // Inside the write's transaction, like the rest: read a chunk, decide its references,
      // classify it, write it and its actions, forget it.
      ...(pass.pending
        ? {
            chunks: async (write) => {
              for await (const chunk of diffChunks(cx, pass)) {
                pc.mark('compare.chunks');
                const ds = fieldMismatches(entity, job.config, chunk.diffs, chunk.references);
                const chunkPass = { ...pass, diffs: chunk.diffs, lone: [], references: chunk.references };
                pc.mark('classify');
                await write(ds, (accepted) => planActions(job, chunkPass, unaccepted(ds, accepted)));
              }
            },
          }
        : {}),
      planActions: (accepted) => planActions(job, confirmation.pass, unaccepted(kept, accepted)),
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
      ...(incremental ? { examined: (client) => examinedRefs(cx, client) } : {}),
    });
    pc.mark('write');
    // Everything staged up to the first refresh has now been examined; rows that the
    // confirmation's refresh brought in are examined by the next run.
    await clearPrev(duck, refresh.lastSeq);
    await saveMeta(duck, {
      last_run_seq: refresh.lastSeq.toString(),
      config_hash: configHash,
      unverifiable: String(written.seen.counts.unverifiable ?? 0),
      ...references.meta,
    });
    await duck.run('COMMIT');
    open = false;
    // A rebuilt mirror is written out now. A delta is small: it stays in DuckDB's write-ahead
    // log until DuckDB checkpoints on its own or the mirror is closed.
    if (refresh.cold) await duck.run('CHECKPOINT');
    // The write-ahead log DuckDB may have created meanwhile holds tenant rows too.
    await narrowFiles(`${mirrorFile(job)}.wal`);
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
      completeness: await completeness(cx),
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

/** Each side's staged records (the mirror's counts) and open dead letters, against the threshold. */
async function completeness({ duck, job, deadLetters }: JobContext): Promise<Completeness> {
  const side = async (s: 'crm' | 'erp'): Promise<SideCompleteness> => {
    const staged = Number((await getMeta(duck, `rows_${s}`)) ?? 0);
    const dead = deadLetters[s];
    const share = staged + dead > 0 ? dead / (staged + dead) : 0;
    return {
      system: job.config.systems[s],
      staged,
      deadLetters: dead,
      deadLetterShare: share,
      completeness: 1 - share,
    };
  };
  const crm = await side('crm');
  const erp = await side('erp');
  const max = job.config.maxDeadLetterShare;
  return {
    crm,
    erp,
    maxDeadLetterShare: max,
    incomplete: (['crm', 'erp'] as const).filter((s) => (s === 'crm' ? crm : erp).deadLetterShare > max),
  };
}

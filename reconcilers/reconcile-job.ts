// One reconcile job: tenant × entity, on a worker thread with its own DuckDB. Refresh the mirror
// (and the local copy of xref) → incremental scope → match → compare → classify → confirm in
// flight → survivorship and actions → write discrepancies, actions and key-match links to
// Postgres → remember how far this run got.
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { classifyPass, type Discrepancy, identityOf } from './classify.js';
import { comparePass, type PassResult } from './compare.js';
import { confirmInFlight } from './confirm.js';
import { openDuck } from './duck.js';
import type { JobResult, ReconcileJob, TenantSlice } from './job-protocol.js';
import { writeResults } from './lifecycle.js';
import { MIRROR_SOURCE, resolveMatches } from './matching.js';
import { clearPrev, getMeta, mirrorLayout, refreshMirror, setMeta, syncXref } from './mirror.js';
import { closeScope, incrementalSeeds, scopeSource } from './scope.js';
import { type PlannedAction, planCreateActions, planPairActions } from './survivorship.js';
import { duckToPg, Scratch } from './transfer.js';

const hash = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);

/** An incremental scope larger than this share of the mirror costs more than a full run. */
const MAX_SCOPE_SHARE = 0.5;

function lapper() {
  const t0 = performance.now();
  let last = t0;
  return {
    lap() {
      const now = performance.now();
      const ms = Math.round(now - last);
      last = now;
      return ms;
    },
    total: () => Math.round(performance.now() - t0),
  };
}

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

export async function runReconcileJob(job: ReconcileJob): Promise<JobResult> {
  const clock = lapper();
  const { entity, tenant } = job;
  const cfg = job.config.entity;
  const layout = mirrorLayout(entity, cfg);
  await mkdir(job.mirrorDir, { recursive: true });
  const duck = await openDuck(join(job.mirrorDir, `${entity}.duckdb`), job.duckdbThreads);
  const scratch = await new Scratch(join(job.mirrorDir, `${entity}.work`)).open();
  const pool = new pg.Pool({
    connectionString: job.stagingUrl,
    max: Math.max(2, job.copyRanges ?? 2) + 1,
    application_name: `trueup-reconcile ${tenant}/${entity}`,
  });
  pool.on('error', () => {});
  try {
    const refresh = await refreshMirror(duck, pool, job, layout, scratch);
    await syncXref(duck, pool, job, scratch);
    const refreshMs = clock.lap();

    const configHash = hash({ entity: cfg, systems: job.config.systems });
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
      );
      if (scope.crm + scope.erp > refresh.rows * MAX_SCOPE_SHARE) incremental = false;
    }
    await resolveMatches(duck, cfg, layout, incremental ? scopeSource('') : MIRROR_SOURCE, '');
    const matchMs = clock.lap();

    const pass = await comparePass(duck, pool, job, '', scratch);
    const found = classifyPass(entity, job.config, pass);
    const compareMs = clock.lap();

    const confirmation = await confirmInFlight(duck, pool, job, layout, found, pass, scratch);
    const confirmMs = clock.lap();

    const kept: Discrepancy[] = confirmation.kept;
    const actions = planActions(job, confirmation.pass, new Set(kept.map(identityOf)));
    const written = await writeResults(pool, {
      tenant,
      entity,
      runId: job.runId,
      discrepancies: kept,
      actions,
      policy: job.config.actions.policy,
      systems: job.config.systems,
      resolvedInFlight: confirmation.resolvedInFlight,
      copyKeyMatches: (client) =>
        duckToPg(
          duck,
          'SELECT crm_id, erp_id FROM pairs WHERE lvl > 0',
          client,
          'trueup_keymatch (crm_id, erp_id)',
          scratch.file('keymatch'),
        ),
      ...(incremental
        ? {
            copyScope: (client: pg.PoolClient) =>
              duckToPg(
                duck,
                `SELECT 'crm', source_id FROM sc_crm UNION ALL SELECT 'erp', source_id FROM sc_erp`,
                client,
                'trueup_scope (side, source_id)',
                scratch.file('scope'),
              ),
          }
        : {}),
    });
    // Everything staged up to the first refresh has now been examined; rows that the
    // confirmation's refresh brought in are examined by the next run.
    await clearPrev(duck, refresh.lastSeq);
    await setMeta(duck, 'last_run_seq', refresh.lastSeq.toString());
    await setMeta(duck, 'config_hash', configHash);
    await duck.run('CHECKPOINT');
    const writeMs = clock.lap();

    return {
      tenant,
      entity,
      mode: incremental ? 'incremental' : 'full',
      mirror: {
        cold: refresh.cold,
        rowsCopied: refresh.rowsCopied,
        rows: refresh.rows,
        lastSeq: (confirmation.refresh?.lastSeq ?? refresh.lastSeq).toString(),
      },
      scope,
      pairs: pass.pairs,
      wideRows: pass.wideRows,
      ...written.seen,
      actions: job.config.actions.policy === 'disabled' ? 0 : actions.length,
      resolved: written.resolved,
      resolvedInFlight: confirmation.resolvedInFlight.length,
      confirmation: confirmation.state,
      timings: { refreshMs, matchMs, compareMs, confirmMs, writeMs, totalMs: clock.total() },
    };
  } finally {
    duck.close();
    await pool.end();
    await scratch.close();
  }
}

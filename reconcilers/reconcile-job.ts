// One reconcile job: tenant × entity, on a worker thread with its own DuckDB. Refresh the
// mirror → business keys → (incremental scope) → match → compare → classify → confirm in
// flight → survivorship and actions → write discrepancies, actions and key-match links to
// Postgres → remember how far this run got.
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import {
  deletedInOne as classifyDeleted,
  type Discrepancy,
  duplicates,
  fieldMismatches,
  missing,
} from './classify.js';
import { deletedInOne, diffPairs, duplicateRecords, loneRecords, refreshMinorUnits } from './compare.js';
import { confirmInFlight } from './confirm.js';
import { addDecimal } from './decimal.js';
import { openDuck } from './duck.js';
import type { JobResult, ReconcileJob } from './job-protocol.js';
import { openDiscrepancyIds, writeResults } from './lifecycle.js';
import { buildScope, CRM, ERP, loadXref, persistLinks, refreshKeys, resolveMatches } from './matching.js';
import { getMeta, refreshMirror, setMeta } from './mirror.js';
import { suggestCandidates } from './suggestions.js';
import { planCreateActions, planPairActions } from './survivorship.js';

const hash = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);

export async function runReconcileJob(job: ReconcileJob): Promise<JobResult> {
  const t0 = performance.now();
  const lap = (() => {
    let last = t0;
    return () => {
      const now = performance.now();
      const ms = Math.round(now - last);
      last = now;
      return ms;
    };
  })();
  const { entity, tenant } = job;
  const cfg = job.config.entity;
  await mkdir(job.mirrorDir, { recursive: true });
  const duck = await openDuck(join(job.mirrorDir, `${entity}.duckdb`), job.duckdbThreads);
  const pool = new pg.Pool({
    connectionString: job.stagingUrl,
    max: (job.copyRanges ?? 2) + 1,
    application_name: `trueup-reconcile ${tenant}/${entity}`,
  });
  pool.on('error', () => {});
  try {
    const refresh = await refreshMirror(duck, pool, job);
    const keysHash = hash(cfg.match.keys);
    const rebuildKeys = refresh.cold || (await getMeta(duck, 'keys_hash')) !== keysHash;
    await refreshKeys(duck, cfg, rebuildKeys);
    await setMeta(duck, 'keys_hash', keysHash);
    const refreshMs = lap();

    const xref = await pool.query<{ crm_id: string; erp_id: string }>(
      `SELECT crm_id, erp_id FROM control.xref WHERE tenant_id = $1 AND entity = $2 AND crm_system = $3 AND erp_system = $4`,
      [tenant, entity, job.config.systems.crm, job.config.systems.erp],
    );
    await loadXref(
      duck,
      xref.rows.map((r) => ({ crmId: r.crm_id, erpId: r.erp_id })),
    );
    const configHash = hash({ entity: cfg, systems: job.config.systems });
    const lastRunSeq = await getMeta(duck, 'last_run_seq');
    const incremental =
      job.mode === 'incremental' &&
      !refresh.cold &&
      !rebuildKeys &&
      lastRunSeq !== undefined &&
      (await getMeta(duck, 'config_hash')) === configHash;
    let scope = { crm: 0, erp: 0 };
    if (incremental)
      scope = await buildScope(duck, cfg, {
        lastRunSeq: BigInt(lastRunSeq),
        open: await openDiscrepancyIds(pool, tenant, entity),
      });
    await resolveMatches(duck, cfg, incremental);
    const matchMs = lap();

    await refreshMinorUnits(duck, entity);
    const main = { pairs: 'pairs', crm: CRM, erp: ERP };
    const diffs = await diffPairs(duck, entity, cfg, job.config.systems, main);
    const deleted = await deletedInOne(duck, entity, main);
    const lone = await loneRecords(duck, entity);
    const dups = await duplicateRecords(duck);
    const suggestions = await suggestCandidates(duck, entity);
    const found: Discrepancy[] = [
      ...fieldMismatches(entity, job.config, diffs),
      ...classifyDeleted(entity, job.config, deleted),
      ...missing(entity, job.config, lone, suggestions),
      ...duplicates(entity, dups),
    ];
    const compareMs = lap();

    const confirmation = await confirmInFlight(duck, pool, job, found);
    const confirmMs = lap();
    const stillDiffering = new Set(confirmation.kept.map((d) => `${d.matchKey}|${d.field}`));
    const keptDiffs = diffs
      .map((d) => ({
        ...d,
        fields: d.fields.filter((f) => stillDiffering.has(`C:${d.crm.source_id}|E:${d.erp.source_id}|${f}`)),
      }))
      .filter((d) => d.fields.length);
    const keptLone = lone.filter((r) =>
      stillDiffering.has(`${r.side === 'crm' ? 'C' : 'E'}:${r.source_id}|`),
    );
    const actions = [
      ...planPairActions(entity, job.config, tenant, keptDiffs),
      ...planCreateActions(entity, job.config, tenant, keptLone),
    ];
    const keyMatches = (
      await duck.rows<{ crm_id: string; erp_id: string }>('SELECT crm_id, erp_id FROM pairs WHERE lvl > 0')
    ).map((r) => ({ crmId: r.crm_id, erpId: r.erp_id }));
    const written = await writeResults(pool, {
      tenant,
      entity,
      runId: job.runId,
      discrepancies: confirmation.kept,
      actions,
      policy: job.config.actions.policy,
      keyMatches,
      systems: job.config.systems,
      resolvedInFlight: confirmation.resolvedInFlight,
    });
    await persistLinks(duck, incremental);
    await setMeta(duck, 'last_run_seq', refresh.lastSeq.toString());
    await setMeta(duck, 'config_hash', configHash);
    await duck.run('CHECKPOINT');
    const writeMs = lap();

    const counts: Record<string, number> = {};
    const moneyVariance: Record<string, string> = {};
    for (const d of confirmation.kept) {
      counts[d.class] = (counts[d.class] ?? 0) + 1;
      if (d.currency && d.moneyImpact)
        moneyVariance[d.currency] = addDecimal(moneyVariance[d.currency] ?? '0', d.moneyImpact);
    }
    return {
      tenant,
      entity,
      mode: incremental ? 'incremental' : 'full',
      mirror: {
        cold: refresh.cold,
        rowsCopied: refresh.rowsCopied,
        rows: refresh.rows,
        lastSeq: refresh.lastSeq.toString(),
      },
      scope,
      counts,
      discrepancies: confirmation.kept.length,
      material: confirmation.kept.filter((d) => d.material).length,
      moneyVariance,
      actions: job.config.actions.policy === 'disabled' ? 0 : actions.length,
      resolved: written.resolved,
      resolvedInFlight: confirmation.resolvedInFlight.length,
      confirmation: confirmation.state,
      timings: {
        refreshMs,
        matchMs,
        compareMs,
        confirmMs,
        writeMs,
        totalMs: Math.round(performance.now() - t0),
      },
    };
  } finally {
    duck.close();
    await pool.end();
  }
}

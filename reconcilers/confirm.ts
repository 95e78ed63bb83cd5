// In-flight confirmation (Veridata-style). A mismatch seen in the mirror may only be a change
// that one system has made and the other's CDC has not staged yet. After the diff, wait
// (bounded) until every live source stream has checkpointed past the run's start, re-read only
// the flagged records from staging, and compare them again: those now equal are resolved in
// flight and not reported. The mirror itself is not touched (the next run sees those rows as
// changed and reconciles them normally).
import type pg from 'pg';
import type { Entity } from '../staging/model/entities.js';
import type { Discrepancy } from './classify.js';
import { deletedInOne, diffPairs } from './compare.js';
import type { Duck } from './duck.js';
import type { ReconcileJob } from './job-protocol.js';
import { appendIds } from './matching.js';
import { loadFresh } from './mirror.js';

/** Test seam: runs after the diff, before the wait (inline mode only). */
export const inFlightHooks: { beforeWait?: (job: ReconcileJob) => Promise<void> } = {};

export interface Confirmation {
  kept: Discrepancy[];
  resolvedInFlight: Discrepancy[];
  state: 'not_needed' | 'confirmed' | 'timed_out';
}

const RECHECKED = new Set(['field_mismatch', 'deleted_in_one', 'missing_in_erp', 'missing_in_crm']);

async function waitForStreams(pool: pg.Pool, job: ReconcileJob): Promise<boolean> {
  const start = Date.parse(job.runStartedAt);
  const live = job.positions.filter(
    (p) => p.state === 'ok' && Date.parse(p.updatedAt) >= start - job.confirm.liveWindowMs,
  );
  if (!live.length) return true;
  const deadline = Date.now() + job.confirm.waitMs;
  for (;;) {
    const { rows } = await pool.query<{ system: string; stream: string; updated_at: Date; state: string }>(
      'SELECT system, stream, updated_at, state FROM control.checkpoints WHERE tenant_id = $1 AND system = ANY($2)',
      [job.tenant, live.map((l) => l.system)],
    );
    const passed = live.every((l) => {
      const r = rows.find((x) => x.system === l.system && x.stream === l.stream);
      return !r || r.state !== 'ok' || r.updated_at.getTime() > start;
    });
    if (passed) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, job.confirm.pollMs));
  }
}

export async function confirmInFlight(
  duck: Duck,
  pool: pg.Pool,
  job: ReconcileJob,
  found: readonly Discrepancy[],
): Promise<Confirmation> {
  const flagged = found.filter((d) => RECHECKED.has(d.class));
  const live = job.positions.some(
    (p) =>
      p.state === 'ok' && Date.parse(p.updatedAt) >= Date.parse(job.runStartedAt) - job.confirm.liveWindowMs,
  );
  if (!flagged.length || job.confirm.waitMs <= 0 || !live)
    return { kept: [...found], resolvedInFlight: [], state: 'not_needed' };
  await inFlightHooks.beforeWait?.(job);
  const caughtUp = await waitForStreams(pool, job);
  const ids = {
    crm: [...new Set(flagged.flatMap((d) => (d.crmId ? [d.crmId] : [])))],
    erp: [...new Set(flagged.flatMap((d) => (d.erpId ? [d.erpId] : [])))],
  };
  await loadFresh(duck, pool, job, ids);
  await duck.run('CREATE OR REPLACE TEMP TABLE flag_crm (source_id VARCHAR)');
  await duck.run('CREATE OR REPLACE TEMP TABLE flag_erp (source_id VARCHAR)');
  await appendIds(duck, 'flag_crm', ids.crm);
  await appendIds(duck, 'flag_erp', ids.erp);
  for (const side of ['crm', 'erp'])
    await duck.run(
      `CREATE OR REPLACE TEMP TABLE ${side}_f AS
        SELECT * FROM fresh WHERE side = '${side}'
        UNION ALL SELECT * FROM rec WHERE side = '${side}' AND source_id IN (SELECT source_id FROM flag_${side})
          AND source_id NOT IN (SELECT source_id FROM fresh WHERE side = '${side}')`,
    );
  await duck.run(
    `CREATE OR REPLACE TEMP TABLE pairs_f AS SELECT * FROM pairs
      WHERE crm_id IN (SELECT source_id FROM flag_crm) AND erp_id IN (SELECT source_id FROM flag_erp)`,
  );
  const entity = job.entity as Entity;
  const src = { pairs: 'pairs_f', crm: 'crm_f', erp: 'erp_f' };
  const diffs = await diffPairs(duck, entity, job.config.entity, job.config.systems, src);
  const still = new Set(
    diffs.flatMap((d) => d.fields.map((f) => `${d.crm.source_id}|${d.erp.source_id}|${f}`)),
  );
  const stillDeleted = new Set(
    (await deletedInOne(duck, entity, src)).map((p) => `${p.crm.source_id}|${p.erp.source_id}`),
  );
  const liveRows = await duck.rows<{ side: string; source_id: string }>(
    'SELECT side, source_id FROM crm_f WHERE NOT deleted UNION ALL SELECT side, source_id FROM erp_f WHERE NOT deleted',
  );
  const liveIds = new Set(liveRows.map((r) => `${r.side}:${r.source_id}`));
  const kept: Discrepancy[] = [];
  const resolvedInFlight: Discrepancy[] = [];
  for (const d of found) {
    let holds = true;
    if (d.class === 'field_mismatch') holds = still.has(`${d.crmId}|${d.erpId}|${d.field}`);
    else if (d.class === 'deleted_in_one') holds = stillDeleted.has(`${d.crmId}|${d.erpId}`);
    else if (d.class === 'missing_in_erp') holds = liveIds.has(`crm:${d.crmId}`);
    else if (d.class === 'missing_in_crm') holds = liveIds.has(`erp:${d.erpId}`);
    (holds ? kept : resolvedInFlight).push(d);
  }
  return { kept, resolvedInFlight, state: caughtUp ? 'confirmed' : 'timed_out' };
}

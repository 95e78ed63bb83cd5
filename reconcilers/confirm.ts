// In-flight confirmation (Veridata-style). A discrepancy seen in the mirror may only be a change
// that one system has made and the other's CDC has not staged yet. After the diff, wait (bounded)
// until every live source stream has checkpointed past the run's start, bring the mirror up to
// date (a small delta), and decide the flagged records again: their scope — the flagged records
// closed under current links, so a counterpart that arrived in flight is found — is matched
// again and compared on freshly read rows. A discrepancy of any class that no longer holds is
// resolved in flight and not reported; one that holds is reported with the fresh values.
import type pg from 'pg';
import { classifyPass, type Discrepancy, identityOf } from './classify.js';
import { comparePass, type PassResult } from './compare.js';
import type { Duck } from './duck.js';
import type { ReconcileJob } from './job-protocol.js';
import { resolveMatches } from './matching.js';
import { type MirrorLayout, type MirrorRefresh, refreshMirror, SIDES } from './mirror.js';
import { closeScope, idSeeds, scopeSource } from './scope.js';
import type { Scratch } from './transfer.js';

/** Test seam: runs after the diff, before the wait (inline mode only). */
export const inFlightHooks: { beforeWait?: (job: ReconcileJob) => Promise<void> } = {};

export interface Confirmation {
  kept: Discrepancy[];
  resolvedInFlight: Discrepancy[];
  state: 'not_needed' | 'confirmed' | 'timed_out';
  /** The pass whose rows back `kept` (the confirming pass when there was one). */
  pass: PassResult;
  /** The mirror refresh made for the confirmation, if any. */
  refresh?: MirrorRefresh;
}

function liveStreams(job: ReconcileJob) {
  const start = Date.parse(job.runStartedAt);
  return job.positions.filter(
    (p) => p.state === 'ok' && Date.parse(p.updatedAt) >= start - job.confirm.liveWindowMs,
  );
}

async function waitForStreams(pool: pg.Pool, job: ReconcileJob): Promise<boolean> {
  const start = Date.parse(job.runStartedAt);
  const live = liveStreams(job);
  const deadline = Date.now() + job.confirm.waitMs;
  for (;;) {
    const { rows } = await pool.query<{ system: string; stream: string; updated_at: Date; state: string }>(
      'SELECT system, stream, updated_at, state FROM control.checkpoints WHERE tenant_id = $1 AND system = ANY($2)',
      [job.tenant, live.map((l) => l.system)],
    );
    const passed = live.every((l) => {
      const r = rows.find((x) => x.system === l.system && x.stream === l.stream);
      return r?.state !== 'ok' || r.updated_at.getTime() > start;
    });
    if (passed) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, job.confirm.pollMs));
  }
}

async function seed(duck: Duck, found: readonly Discrepancy[]): Promise<void> {
  for (const side of SIDES) {
    await duck.run(`CREATE OR REPLACE TEMP TABLE cf_ids_${side} (source_id VARCHAR)`);
    const ids = new Set(
      found.flatMap((d) =>
        (side === 'crm' ? d.crmId : d.erpId) ? [side === 'crm' ? d.crmId! : d.erpId!] : [],
      ),
    );
    if (!ids.size) continue;
    const app = await duck.conn.createAppender(`cf_ids_${side}`);
    for (const id of ids) {
      app.appendVarchar(id);
      app.endRow();
    }
    app.closeSync();
  }
}

export async function confirmInFlight(
  duck: Duck,
  pool: pg.Pool,
  job: ReconcileJob,
  layout: MirrorLayout,
  found: readonly Discrepancy[],
  first: PassResult,
  scratch: Scratch,
): Promise<Confirmation> {
  if (!found.length || job.confirm.waitMs <= 0 || !liveStreams(job).length)
    return { kept: [...found], resolvedInFlight: [], state: 'not_needed', pass: first };
  await inFlightHooks.beforeWait?.(job);
  const caughtUp = await waitForStreams(pool, job);
  // Rows replaced now are examined by the next run: their older versions are kept in the mirror.
  const refresh = await refreshMirror(
    duck,
    pool,
    { ...job, rebuildMirror: false },
    layout,
    scratch,
    undefined,
    true,
  );
  await seed(duck, found);
  await closeScope(duck, job.config.entity, layout, 'cf_', idSeeds('cf_'));
  await resolveMatches(duck, job.config.entity, layout, scopeSource('cf_'), 'cf_');
  const pass = await comparePass(duck, pool, job, 'cf_', scratch);
  const now = new Map(classifyPass(job.entity, job.config, pass).map((d) => [identityOf(d), d]));
  const kept: Discrepancy[] = [];
  const resolvedInFlight: Discrepancy[] = [];
  for (const d of found) {
    const fresh = now.get(identityOf(d));
    if (fresh) kept.push(fresh);
    else resolvedInFlight.push(d);
  }
  return { kept, resolvedInFlight, state: caughtUp ? 'confirmed' : 'timed_out', pass, refresh };
}

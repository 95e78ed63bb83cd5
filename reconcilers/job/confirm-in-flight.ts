// In-flight confirmation: a discrepancy seen in the mirror may only be a change one system made
// and the other's CDC has not staged yet. Wait (bounded) until every live source stream has
// checkpointed past the run's start, bring the mirror up to date, and decide the flagged records
// again: their scope (closed under current links, so a counterpart that arrived in flight is
// found) is matched again and compared on freshly read rows. What no longer holds is resolved in
// flight and not reported; what holds is reported with the fresh values.
import { listCheckpoints } from '../../staging/checkpoints.js';
import { poolDb } from '../../staging/control/control-db.js';
import { withTenantScope } from '../../staging/tenant-scope.js';
import { classifyPass, type Discrepancy, identityOf } from '../classify/classify.js';
import { comparePass, type PassResult } from '../compare/compare-pass.js';
import type { Duck } from '../duckdb/duck.js';
import { resolveMatches } from '../match/resolve-matches.js';
import { closeScope, idSeeds, scopeSource } from '../match/scope.js';
import { SIDES } from '../mirror/mirror-layout.js';
import { type MirrorRefresh, refreshMirror } from '../mirror/refresh-mirror.js';
import type { ReconcileJob } from '../pool/job-protocol.js';
import type { JobContext } from './job-context.js';

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

/**
 * The streams a reader is actually streaming now: a held CDC slot claim ('cdc <system>/<slot>',
 * pipeline/connectors/postgres/slot-claim.ts) or a pass of a `serve` source in progress
 * ('pass <system>', pipeline/serve/lock-session.ts). A source whose checkpoint is merely recent
 * (a cron `sync --once` that has ended) has nothing in flight: no wait for it.
 */
async function liveStreams({
  pool,
  job,
}: Pick<JobContext, 'pool' | 'job'>): Promise<{ system: string; stream: string }[]> {
  const { rows } = await withTenantScope(pool, job.tenant, (client) =>
    client.query<{ system: string; stream: string }>(
      `SELECT c.system, c.stream FROM control.checkpoints c
      WHERE c.tenant_id = $1 AND c.system = ANY($2) AND c.state = 'ok'
        AND EXISTS (SELECT 1 FROM pg_locks l
              WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                AND l.classid = (hashtext(c.tenant_id)::bigint & 4294967295)::oid
                AND l.objid IN ((hashtext('cdc ' || c.system || '/' || c.stream)::bigint & 4294967295)::oid,
                                (hashtext('pass ' || c.system)::bigint & 4294967295)::oid))`,
      [job.tenant, [job.config.systems.crm, job.config.systems.erp]],
    ),
  );
  return rows;
}

/**
 * Whether this job's findings may need confirming in flight: it may wait, and some source stream
 * of the tenant's CRM or ERP is live now. A job that need not compares in chunks (reconcile-job.ts).
 */
export async function confirmationNeeded(cx: Pick<JobContext, 'pool' | 'job'>): Promise<boolean> {
  return cx.job.confirm.waitMs > 0 && (await liveStreams(cx)).length > 0;
}

async function waitForStreams({ pool, job }: JobContext): Promise<boolean> {
  const start = Date.parse(job.runStartedAt);
  const live = await liveStreams({ pool, job });
  const deadline = Date.now() + job.confirm.waitMs;
  for (;;) {
    const rows = await listCheckpoints(poolDb(pool), job.tenant);
    const passed = live.every((l) => {
      const r = rows.find((x) => x.system === l.system && x.stream === l.stream);
      return r?.state !== 'ok' || r.updatedAt.getTime() > start;
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
  cx: JobContext,
  found: readonly Discrepancy[],
  first: PassResult,
): Promise<Confirmation> {
  const { duck, job } = cx;
  if (!found.length || job.confirm.waitMs <= 0 || !(await liveStreams(cx)).length)
    return { kept: [...found], resolvedInFlight: [], state: 'not_needed', pass: first };
  await inFlightHooks.beforeWait?.(job);
  const caughtUp = await waitForStreams(cx);
  // Rows replaced now are examined by the next run: their older versions are kept in the mirror.
  const refresh = await refreshMirror(
    { ...cx, job: { ...job, rebuildMirror: false } },
    { examinedBy: 'next-run' },
  );
  await seed(duck, found);
  await closeScope(cx, 'cf_', idSeeds('cf_'));
  await resolveMatches(cx, scopeSource('cf_'), 'cf_');
  const pass = await comparePass(cx, 'cf_');
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

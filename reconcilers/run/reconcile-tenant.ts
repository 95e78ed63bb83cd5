// Reconciles one tenant: records the run and its sources' positions at the start, runs one job per
// enabled entity on the pool, collects their results into summary.json in the run's output folder
// (<dataDir>/runs/<tenant>/<run id>/) and closes the run. An entity's failure is recorded and the
// others go on; the run is then `failed` with the errors named. A job whose entity refers to
// another one of the run (an invoice's customer_ref) starts once that one's job is done: references
// are judged by the referenced entity's links, which its job records (key matches).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { listCheckpoints } from '../../staging/checkpoints.js';
import { failUnfinishedRun, finishRun, startRun } from '../../staging/control/runs.js';
import type { Staging } from '../../staging/database.js';
import { assertTenantId } from '../../staging/identifiers.js';
import { ENTITIES, type Entity } from '../../staging/model/entities.js';
import type { TenantConfig } from '../../staging/model/tenant-config.js';
import { tenantStaging } from '../../staging/scoped-staging.js';
import { referencedEntities } from '../compare/reference-fields.js';
import { jobMemoryLimit } from '../duckdb/memory-limit.js';
import { privateDir, writePrivateFile } from '../duckdb/private-files.js';
import type { JobResult, ReconcileMode, StreamPosition, TenantSlice } from '../pool/job-protocol.js';
import type { ReconcilePool } from '../pool/reconcile-pool.js';
import { type RunSummary, summarise } from './run-summary.js';
import { ReconcileError, tenantSlice } from './tenant-slice.js';

export interface ReconcileOptions {
  tenant: string;
  tenantConfig: TenantConfig;
  staging: Staging;
  stagingUrl: string;
  dataDir: string;
  pool: ReconcilePool;
  entities?: readonly Entity[];
  /** Default: incremental (falls back to full per entity when there is no usable mirror). */
  mode?: ReconcileMode;
  rebuildMirror?: boolean;
  confirm?: Partial<{ waitMs: number; pollMs: number; liveWindowMs: number }>;
  duckdbThreads?: number;
  /** DuckDB memory_limit per job (config `reconcile.memoryLimit`); default: a share of RAM per pool thread. */
  memoryLimit?: string;
  /** After each entity's job ends (succeeded or failed): how many of the run's entities are done. */
  onEntityDone?: (entity: Entity, done: number, total: number) => void;
}

export function newRunId(now = new Date()): string {
  return `${now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

export async function reconcileTenant(opts: ReconcileOptions): Promise<RunSummary> {
  const tenant = assertTenantId(opts.tenant);
  const t = opts.tenantConfig;
  const mode = opts.mode ?? 'incremental';
  // An entity named twice is one job: two jobs of one entity under one run id would share its
  // run number and count its discrepancies twice.
  const entities = [...new Set(opts.entities ?? ENTITIES)].filter((e) => t.entities[e]?.enabled !== false);
  let slices: Map<Entity, TenantSlice>;
  try {
    slices = new Map(entities.map((e) => [e, tenantSlice(t, e)] as const));
  } catch (err) {
    throw new ReconcileError(`tenant ${tenant}: ${(err as Error).message}`, {
      subject: { tenant },
      cause: err,
    });
  }
  const systems = slices.values().next().value?.systems;
  // The run's bookkeeping is its tenant's: in the tenant's scope (the jobs scope their own reads).
  const scoped = tenantStaging(opts.staging, tenant);
  const runId = newRunId();
  const outputDir = join(opts.dataDir, 'runs', tenant, runId);
  const memoryLimit = jobMemoryLimit(opts.memoryLimit, opts.pool.threads);
  await privateDir(outputDir);
  const started = new Date();
  const crmErp: readonly string[] = systems ? [systems.crm, systems.erp] : [];
  const positions: StreamPosition[] = (await listCheckpoints(opts.staging.db, tenant))
    .filter((c) => crmErp.includes(c.system))
    .map((c) => ({
      system: c.system,
      stream: c.stream,
      position: c.position,
      state: c.state,
      updatedAt: c.updatedAt.toISOString(),
    }));
  await startRun(scoped.db, {
    tenant,
    runId,
    kind: 'reconcile',
    mode,
    sourcePositions: positions,
    outputDir,
    startedAt: started,
  });
  const confirm = { waitMs: 10_000, pollMs: 200, liveWindowMs: 5 * 60_000, ...opts.confirm };
  // Referenced entities first (ENTITIES lists them before the entities that refer to them); the
  // others run side by side on the pool.
  const jobs: Partial<Record<Entity, Promise<JobResult>>> = {};
  for (const entity of [...entities].sort((a, b) => ENTITIES.indexOf(a) - ENTITIES.indexOf(b))) {
    const before = referencedEntities(entity).flatMap((e) => jobs[e] ?? []);
    jobs[entity] = Promise.allSettled(before).then(() =>
      opts.pool.run({
        stagingUrl: opts.stagingUrl,
        tenant,
        entity,
        runId,
        config: slices.get(entity)!,
        mirrorDir: join(opts.dataDir, 'mirrors', tenant),
        mode,
        rebuildMirror: opts.rebuildMirror ?? false,
        runStartedAt: started.toISOString(),
        positions,
        confirm,
        ...(opts.duckdbThreads ? { duckdbThreads: opts.duckdbThreads } : {}),
        duckdbMemoryLimit: memoryLimit,
      }),
    );
  }
  let done = 0;
  for (const entity of entities)
    void jobs[entity]!.then(
      () => opts.onEntityDone?.(entity, ++done, entities.length),
      () => opts.onEntityDone?.(entity, ++done, entities.length),
    );
  const settled = await Promise.allSettled(entities.map((entity) => jobs[entity]!));
  const results: JobResult[] = [];
  const errors: { entity: string; message: string }[] = [];
  settled.forEach((s, i) => {
    if (s.status === 'fulfilled') results.push(s.value);
    else errors.push({ entity: entities[i]!, message: (s.reason as Error)?.message ?? String(s.reason) });
  });
  const summary = summarise({ tenant, runId, mode, started, outputDir, positions, results, errors });
  const jobErrors = errors.map((e) => `${e.entity}: ${e.message}`);
  const file = join(outputDir, 'summary.json');
  let step = `writing ${file}`;
  try {
    await writePrivateFile(file, `${JSON.stringify(summary, null, 2)}\n`);
    step = 'recording the run in control.runs';
    await finishRun(scoped.db, {
      tenant,
      runId,
      summary,
      error: jobErrors.length ? jobErrors.join('; ') : null,
    });
  } catch (err) {
    // Without this the run would stay `running` for ever. Best effort: if Postgres itself is
    // what failed, this may fail too, and the caller still gets the original error.
    const why = `${step} failed: ${(err as Error)?.message ?? String(err)}`;
    await failUnfinishedRun(scoped.db, { tenant, runId, error: [why, ...jobErrors].join('; ') }).catch(
      () => {},
    );
    throw err;
  }
  return summary;
}

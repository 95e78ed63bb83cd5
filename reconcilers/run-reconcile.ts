// Reconciles one tenant: records the run and the sources' positions at its start, runs one job
// per enabled entity on the pool, collects their results into summary.json in the run's output
// folder (<dataDir>/runs/<tenant>/<run id>/) and closes the run. An entity's failure is recorded
// and the others go on; the run is then `failed` with the errors named.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemsByRole, type TenantConfig } from '../pipeline/config/schema.js';
import type { Staging } from '../staging/database.js';
import { assertTenantId } from '../staging/identifiers.js';
import { ENTITIES, type Entity } from '../staging/model/entities.js';
import { addDecimal } from './decimal.js';
import type { JobResult, ReconcileMode, StreamPosition, TenantSlice } from './job-protocol.js';
import type { ReconcilePool } from './pool.js';

export class ReconcileError extends Error {
  override name = 'ReconcileError';
  constructor(
    message: string,
    readonly kind: 'terminal' | 'transient',
    readonly detail: { tenant?: string; entity?: string } = {},
  ) {
    super(message);
  }
}

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
}

export interface RunSummary {
  tenant: string;
  runId: string;
  status: 'succeeded' | 'failed';
  mode: ReconcileMode;
  startedAt: string;
  finishedAt: string;
  outputDir: string;
  sourcePositions: StreamPosition[];
  totals: {
    discrepancies: number;
    material: number;
    /** Discrepancies (and material ones) a reviewer accepted: not counted by --fail-on. */
    accepted: number;
    acceptedMaterial: number;
    actions: number;
    resolved: number;
    resolvedInFlight: number;
  };
  countsByClass: Record<string, number>;
  countsByEntity: Record<string, Record<string, number>>;
  moneyVariance: Record<string, string>;
  entities: JobResult[];
  errors: { entity: string; message: string }[];
}

export function tenantSlice(t: TenantConfig, entity: Entity): TenantSlice {
  const { crm, erp } = systemsByRole(t);
  if (!crm || !erp)
    throw new ReconcileError('the tenant needs one system with role crm and one with role erp', 'terminal', {
      entity,
    });
  const entityCfg = t.entities[entity] ?? defaultEntityConfig();
  // Structured clone of the frozen config: plain data for the worker thread.
  return JSON.parse(
    JSON.stringify({
      systems: { crm, erp },
      entity: entityCfg,
      materiality: t.materiality,
      actions: t.actions,
    }),
  ) as TenantSlice;
}

function defaultEntityConfig() {
  return {
    enabled: true,
    match: {
      direct: [
        { side: 'crm', field: 'erp_ref' },
        { side: 'erp', field: 'crm_ref' },
      ],
      keys: [],
    },
    compare: {},
    nullEquivalents: [''],
    ignoreFields: [],
    survivorship: {},
    mapping: {},
    mappingVersion: 1,
  } as unknown as NonNullable<TenantConfig['entities'][Entity]>;
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
    throw new ReconcileError(`tenant ${tenant}: ${(err as Error).message}`, 'terminal', { tenant });
  }
  const systems = slices.values().next().value?.systems;
  const runId = newRunId();
  const outputDir = join(opts.dataDir, 'runs', tenant, runId);
  await mkdir(outputDir, { recursive: true });
  const started = new Date();
  const { rows: cps } = await opts.staging.pool.query<{
    system: string;
    stream: string;
    position: unknown;
    state: string;
    updated_at: Date;
  }>(
    'SELECT system, stream, position, state, updated_at FROM control.checkpoints WHERE tenant_id = $1 AND system = ANY($2)',
    [tenant, systems ? [systems.crm, systems.erp] : []],
  );
  const positions: StreamPosition[] = cps.map((c) => ({
    system: c.system,
    stream: c.stream,
    position: c.position,
    state: c.state,
    updatedAt: c.updated_at.toISOString(),
  }));
  await opts.staging.pool.query(
    `INSERT INTO control.runs (tenant_id, run_id, kind, mode, source_positions, output_dir, started_at)
     VALUES ($1, $2, 'reconcile', $3, $4::jsonb, $5, $6)`,
    [tenant, runId, mode, JSON.stringify(positions), outputDir, started],
  );
  const confirm = { waitMs: 10_000, pollMs: 200, liveWindowMs: 5 * 60_000, ...opts.confirm };
  const settled = await Promise.allSettled(
    entities.map((entity) =>
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
      }),
    ),
  );
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
    await writeFile(file, `${JSON.stringify(summary, null, 2)}\n`);
    step = 'recording the run in control.runs';
    await opts.staging.pool.query(
      `UPDATE control.runs SET status = $3, finished_at = now(), summary = $4::jsonb, error = $5
        WHERE tenant_id = $1 AND run_id = $2`,
      [
        tenant,
        runId,
        summary.status,
        JSON.stringify(summary),
        jobErrors.length ? jobErrors.join('; ') : null,
      ],
    );
  } catch (err) {
    // Without this the run would stay `running` for ever. Best effort: if Postgres itself is
    // what failed, this may fail too, and the caller still gets the original error.
    const why = `${step} failed: ${(err as Error)?.message ?? String(err)}`;
    await opts.staging.pool
      .query(
        `UPDATE control.runs SET status = 'failed', finished_at = now(), error = $3
          WHERE tenant_id = $1 AND run_id = $2 AND status = 'running'`,
        [tenant, runId, [why, ...jobErrors].join('; ')],
      )
      .catch(() => {});
    throw err;
  }
  return summary;
}

function summarise(x: {
  tenant: string;
  runId: string;
  mode: ReconcileMode;
  started: Date;
  outputDir: string;
  positions: StreamPosition[];
  results: JobResult[];
  errors: { entity: string; message: string }[];
}): RunSummary {
  const countsByClass: Record<string, number> = {};
  const countsByEntity: Record<string, Record<string, number>> = {};
  const moneyVariance: Record<string, string> = {};
  const totals = {
    discrepancies: 0,
    material: 0,
    accepted: 0,
    acceptedMaterial: 0,
    actions: 0,
    resolved: 0,
    resolvedInFlight: 0,
  };
  for (const r of x.results) {
    countsByEntity[r.entity] = r.counts;
    for (const [k, n] of Object.entries(r.counts)) countsByClass[k] = (countsByClass[k] ?? 0) + n;
    for (const [c, v] of Object.entries(r.moneyVariance))
      moneyVariance[c] = addDecimal(moneyVariance[c] ?? '0', v);
    totals.discrepancies += r.discrepancies;
    totals.material += r.material;
    totals.accepted += r.accepted;
    totals.acceptedMaterial += r.acceptedMaterial;
    totals.actions += r.actions;
    totals.resolved += r.resolved;
    totals.resolvedInFlight += r.resolvedInFlight;
  }
  return {
    tenant: x.tenant,
    runId: x.runId,
    status: x.errors.length ? 'failed' : 'succeeded',
    mode: x.mode,
    startedAt: x.started.toISOString(),
    finishedAt: new Date().toISOString(),
    outputDir: x.outputDir,
    sourcePositions: x.positions,
    totals,
    countsByClass,
    countsByEntity,
    moneyVariance,
    entities: x.results,
    errors: x.errors,
  };
}

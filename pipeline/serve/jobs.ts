// The adapter between `serve` and trueup's entry points: capture (the connectors' stream runner),
// reconciliation (the reconcilers' run and worker pool), backfill (bounded re-read), apply after a
// scheduled run (pipeline/apply), and a CDC source's slot figures. Every call serve makes into code outside pipeline/serve is here, so
// a change of those entry points is a change of this one file.
import type pg from 'pg';
import { createReconcilePool, type ReconcilePool } from '../../reconcilers/pool/reconcile-pool.js';
import { reconcileTenant } from '../../reconcilers/run/reconcile-tenant.js';
import type { Staging } from '../../staging/database.js';
import { TrueupError } from '../../staging/model/errors.js';
import { withTenantScope } from '../../staging/tenant-scope.js';
import { applyAfterRun } from '../apply/apply-after-run.js';
import type { SystemConfig, TenantConfig } from '../config/schema.js';
import type { RereadRequest } from '../connectors/contract.js';
import { type PostgresSystemConfig, replicationNames } from '../connectors/postgres/config.js';
import { connectSource, slotInfo } from '../connectors/postgres/source-admin.js';
import { findConnector } from '../connectors/registry.js';
import { rereadSystem, syncSystem } from '../connectors/stream-runner.js';
import { deadLetterAlerts, type SyncReport } from '../connectors/sync-report.js';
import type { Logger } from '../log/logger.js';
import type { CaptureReport, CdcFigures, ServeWork } from './work.js';

export interface TrueupWorkDeps {
  staging: Staging;
  /** URL of the staging database for the reconcile worker threads. */
  stagingUrl: string;
  dataDir: string;
  logger: Logger;
  workers: { threads?: number | undefined; jobTimeoutMs: number };
}

/**
 * What serve keeps of a pass: its counts, the per-entity figures `trueup sync` prints, and the
 * entities over the tenant's `sync.maxDeadLetterShare` (deadLetterAlerts, the rule `trueup sync`
 * exits 1 on), each message naming the mapping to look at.
 */
function captureReport(r: SyncReport, tenantConfig: TenantConfig): CaptureReport {
  const alerts = deadLetterAlerts(r, tenantConfig.sync.maxDeadLetterShare);
  return {
    status: r.status,
    ...(r.error ? { error: r.error } : {}),
    requests: r.requests,
    retries: r.retries,
    throttled: r.throttled,
    streams: r.streams.map((s) => ({
      entity: s.entity,
      staged: s.inserted + s.updated,
      deadLettered: s.deadLettered,
    })),
    ...(r.entities
      ? {
          entities: r.entities.map((e) => ({
            entity: e.entity,
            read: e.read,
            staged: e.staged,
            tombstones: e.tombstones,
            deadLetters: e.deadLetters,
            openDeadLetters: e.openDeadLetters,
            reasons: e.reasons.map((g) => ({ ...g, sourceIds: [...g.sourceIds] })),
          })),
        }
      : {}),
    ...(alerts.length
      ? {
          deadLetterAlerts: alerts.map((a) => ({
            entity: a.entity,
            deadLetters: a.deadLetters,
            read: a.read,
            message: a.message,
          })),
        }
      : {}),
  };
}

/** The slot's lag and retained WAL, read on the source database itself. */
async function slotFigures(config: PostgresSystemConfig, slot: string): Promise<CdcFigures> {
  const source = await connectSource(config.connection, 'trueup-serve-metrics', { connectTimeoutMs: 3000 });
  try {
    const info = await slotInfo(source, slot);
    if (!info) return { slot, lagBytes: null, retainedBytes: null };
    const { rows } = await source.query<{ retained: string | null }>(
      'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text AS retained FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    const n = (v: string | null | undefined) => (v === null || v === undefined ? null : Number(v));
    return { slot, lagBytes: n(info.bytesBehind), retainedBytes: n(rows[0]?.retained) };
  } finally {
    await source.end().catch(() => {});
  }
}

export function trueupWork(deps: TrueupWorkDeps): ServeWork {
  const capture = { staging: deps.staging, logger: deps.logger };
  let pool: ReconcilePool | undefined;
  // keepOpen 0: a mirror file is closed when its job ends (before the job's tenant × entity lock
  // is released), so serve processes sharing a dataDir — one machine, or a shared volume — take
  // turns on it instead of failing on DuckDB's file lock held by another process's idle thread.
  const reconcilePool = () =>
    (pool ??= createReconcilePool({
      ...(deps.workers.threads ? { threads: deps.workers.threads } : {}),
      jobTimeoutMs: deps.workers.jobTimeoutMs,
      keepOpen: 0,
    }));
  const q: pg.Pool = deps.staging.pool;

  return {
    captureMode: (config) => findConnector(config.kind)?.capture.mode,
    rereadable: (config) => findConnector(config.kind)?.reread !== undefined,

    async stream(tenant, system, config, tenantConfig, signal) {
      const r = await syncSystem(capture, tenant, system, config, {
        once: false,
        signal,
        entities: tenantConfig.entities,
      });
      return captureReport(r, tenantConfig);
    },

    async pass(tenant, system, config, tenantConfig, signal) {
      return captureReport(
        await syncSystem(capture, tenant, system, config, { signal, entities: tenantConfig.entities }),
        tenantConfig,
      );
    },

    async reconcile(req) {
      const s = await reconcileTenant({
        tenant: req.tenant,
        tenantConfig: req.tenantConfig,
        staging: deps.staging,
        stagingUrl: deps.stagingUrl,
        dataDir: deps.dataDir,
        pool: reconcilePool(),
        entities: req.entities,
        mode: req.full ? 'full' : 'incremental',
        confirm: { waitMs: req.confirmWaitMs },
      });
      return {
        runId: s.runId,
        status: s.status,
        totals: {
          discrepancies: s.totals.discrepancies,
          material: s.totals.material,
          actions: s.totals.actions,
        },
        errors: s.errors,
      };
    },

    async backfill(req) {
      const config = req.tenantConfig.systems[req.system];
      if (!config)
        throw new TrueupError(`tenant ${req.tenant} has no system "${req.system}"`, {
          subject: { tenant: req.tenant, system: req.system },
        });
      const source =
        req.where !== undefined || req.table !== undefined
          ? {
              source: {
                ...(req.where !== undefined ? { where: req.where } : {}),
                ...(req.table !== undefined ? { table: req.table } : {}),
              },
            }
          : {};
      const request: RereadRequest =
        'window' in req
          ? { entity: req.entity, window: req.window, ...source }
          : 'ids' in req
            ? { entity: req.entity, ids: req.ids, ...source }
            : { entity: req.entity, all: true, ...source };
      const r = await rereadSystem(capture, req.tenant, req.system, config, request, {
        entities: req.tenantConfig.entities,
      });
      return captureReport(r, req.tenantConfig);
    },

    async apply(req) {
      const report = await applyAfterRun({
        staging: deps.staging,
        logger: deps.logger.child({ tenant: req.tenant, runId: req.runId }),
        tenant: req.tenant,
        config: req.tenantConfig,
      });
      const n = (k: keyof NonNullable<typeof report>['counts']) => report?.counts[k] ?? 0;
      return {
        applied: n('applied'),
        failed: n('failed'),
        skippedStale: n('skipped_stale'),
        notNow: n('not_now'),
        errors: (report?.errors ?? []).map((e) => `${e.system}/${e.entity}: ${e.message}`),
      };
    },

    async cdcFigures(tenant, system, config: SystemConfig) {
      if (config.kind !== 'postgres') return undefined;
      const pgConfig = config as unknown as PostgresSystemConfig;
      return slotFigures(pgConfig, replicationNames(tenant, system, pgConfig).slot);
    },

    async abandonRuns(tenant, since, reason) {
      // One tenant's runs: in its scope, like the run's own bookkeeping.
      const res = await withTenantScope(q, tenant, (c) =>
        c.query(
          `UPDATE control.runs SET status = 'failed', finished_at = now(), error = $3
          WHERE tenant_id = $1 AND kind = 'reconcile' AND status = 'running' AND started_at >= $2`,
          [tenant, since, reason],
        ),
      );
      return res.rowCount ?? 0;
    },

    async close() {
      await pool?.close();
      pool = undefined;
    },
  };
}

/** The signal `serve` stops on: the runtime's (SIGINT/SIGTERM through the CLI entry point). */
export function stopSignalOf(rt: { stopSignal?: () => AbortSignal }): AbortSignal {
  if (rt.stopSignal) return rt.stopSignal();
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return abort.signal;
}

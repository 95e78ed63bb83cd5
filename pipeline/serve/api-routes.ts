// The routes of `serve`'s HTTP side: probes, metrics, and the JSON API — a tenant's runs,
// discrepancies and actions, and triggering a run or a backfill as a job of the shared queue.
// A route of one tenant reads through that tenant's scope (tenantStaging: Postgres admits only
// its rows, docs/security.md); /metrics is the one cross-tenant view and reads as the owner.
import { ACTION_STATUSES, type ActionStatus } from '../../staging/control/action-states.js';
import { listActions } from '../../staging/control/actions.js';
import { listDiscrepancies } from '../../staging/control/discrepancies.js';
import { DISCREPANCY_STATUSES, type DiscrepancyStatus } from '../../staging/control/discrepancy-states.js';
import type { Staging } from '../../staging/database.js';
import { ENTITIES, type Entity } from '../../staging/model/entities.js';
import { tenantStaging } from '../../staging/scoped-staging.js';
import type { SystemConfig, TrueupConfig } from '../config/schema.js';
import { listRuns } from './control-reads.js';
import { HttpError, type Route } from './http-server.js';
import { backfillJobData, describeIssues, reconcileJobData, reconcileSingletonKey } from './job-data.js';
import { JOB_KINDS, type JobKind, type JobQueue } from './job-queue.js';
import type { ServeMetrics } from './metrics.js';

export interface RouteDeps {
  config: Readonly<TrueupConfig>;
  staging: Staging;
  queue: JobQueue;
  metrics: ServeMetrics;
  ready(): Promise<{ ready: boolean; checks: Record<string, string> }>;
  /** Whether a system can be backfilled (its kind has a bounded re-read). */
  rereadable(config: SystemConfig): boolean;
  status(): object;
}

function tenantOf(deps: RouteDeps, tenant: string): string {
  if (!Object.hasOwn(deps.config.tenants, tenant)) throw new HttpError(404, `unknown tenant "${tenant}"`);
  return tenant;
}

function limitOf(q: URLSearchParams, max = 1000): number {
  const raw = q.get('limit');
  if (raw === null) return 100;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new HttpError(400, `limit must be a whole number from 1 to ${max}`);
  return n;
}

function oneOf<T extends string>(q: URLSearchParams, key: string, allowed: readonly T[]): T | undefined {
  const v = q.get(key);
  if (v === null) return undefined;
  if (!(allowed as readonly string[]).includes(v))
    throw new HttpError(400, `${key} must be one of ${allowed.join(', ')}, not ${JSON.stringify(v)}`);
  return v as T;
}

export function serveRoutes(deps: RouteDeps): Route[] {
  // One scoped handle per tenant, made on first use (its kysely is never destroyed: that would end
  // the shared pool).
  const scoped = new Map<string, Staging>();
  const scopeOf = (tenant: string): Staging => {
    let s = scoped.get(tenant);
    if (!s) {
      s = tenantStaging(deps.staging, tenant);
      scoped.set(tenant, s);
    }
    return s;
  };
  return [
    { method: 'GET', path: '/healthz', handle: async () => ({ json: { status: 'ok' } }) },
    {
      method: 'GET',
      path: '/readyz',
      handle: async () => {
        const r = await deps.ready();
        return { status: r.ready ? 200 : 503, json: r };
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      handle: async () => ({ text: await deps.metrics.text(), contentType: deps.metrics.contentType }),
    },
    { method: 'GET', path: '/api/status', handle: async () => ({ json: deps.status() }) },
    {
      method: 'GET',
      path: '/api/tenants/:tenant/runs',
      handle: async ({ params, query }) => {
        const tenant = tenantOf(deps, params.tenant!);
        return { json: { runs: await listRuns(scopeOf(tenant).pool, tenant, limitOf(query)) } };
      },
    },
    {
      method: 'GET',
      path: '/api/tenants/:tenant/discrepancies',
      handle: async ({ params, query }) => {
        const tenant = tenantOf(deps, params.tenant!);
        const entity = oneOf<Entity>(query, 'entity', ENTITIES);
        const status = oneOf<DiscrepancyStatus>(query, 'status', DISCREPANCY_STATUSES) ?? 'open';
        const material = oneOf(query, 'material', ['true', 'false'] as const);
        const discrepancies = await listDiscrepancies(scopeOf(tenant).db, {
          tenant,
          status,
          limit: limitOf(query, 10_000),
          ...(entity ? { entity } : {}),
          ...(material === 'true' ? { material: true } : {}),
        });
        return { json: { discrepancies } };
      },
    },
    {
      method: 'GET',
      path: '/api/tenants/:tenant/actions',
      handle: async ({ params, query }) => {
        const tenant = tenantOf(deps, params.tenant!);
        const entity = oneOf<Entity>(query, 'entity', ENTITIES);
        const status = oneOf<ActionStatus>(query, 'status', ACTION_STATUSES);
        const actions = await listActions(scopeOf(tenant).db, {
          tenant,
          limit: limitOf(query, 10_000),
          ...(entity ? { entity } : {}),
          ...(status ? { status } : {}),
        });
        return { json: { actions } };
      },
    },
    {
      method: 'POST',
      path: '/api/tenants/:tenant/runs',
      handle: async ({ params, body }) => {
        const tenant = tenantOf(deps, params.tenant!);
        const parsed = reconcileJobData.safeParse({ ...(body as object), tenant, trigger: 'api' });
        if (!parsed.success) throw new HttpError(400, describeIssues(parsed.error));
        const id = await deps.queue.send('reconcile', parsed.data, {
          singletonKey: reconcileSingletonKey(parsed.data),
        });
        return id
          ? { status: 202, json: { queued: true, job: { kind: 'reconcile', id } } }
          : {
              status: 200,
              json: { queued: false, reason: 'the same run is already queued for this tenant' },
            };
      },
    },
    {
      method: 'POST',
      path: '/api/tenants/:tenant/backfills',
      handle: async ({ params, body }) => {
        const tenant = tenantOf(deps, params.tenant!);
        const parsed = backfillJobData.safeParse({ ...(body as object), tenant });
        if (!parsed.success) throw new HttpError(400, describeIssues(parsed.error));
        const systems = deps.config.tenants[tenant]!.systems;
        const system = Object.hasOwn(systems, parsed.data.system) ? systems[parsed.data.system] : undefined;
        if (!system) throw new HttpError(400, `tenant ${tenant} has no system "${parsed.data.system}"`);
        if (!deps.rereadable(system))
          throw new HttpError(
            400,
            `${tenant}/${parsed.data.system}: connector kind "${system.kind}" cannot re-read a window or given ids yet`,
          );
        const d = parsed.data;
        if (system.kind !== 'postgres' && ('all' in d || d.where !== undefined || d.table !== undefined))
          throw new HttpError(
            400,
            `${tenant}/${d.system}: "all", "where" and "table" apply to postgres systems only (this one is ${system.kind}); give a window or ids`,
          );
        const id = await deps.queue.send('backfill', d);
        return { status: 202, json: { queued: true, job: { kind: 'backfill', id } } };
      },
    },
    {
      method: 'GET',
      path: '/api/jobs/:kind/:id',
      handle: async ({ params }) => {
        if (!(JOB_KINDS as readonly string[]).includes(params.kind!))
          throw new HttpError(404, `no job kind "${params.kind}" (kinds: ${JOB_KINDS.join(', ')})`);
        if (!/^[0-9a-f-]{36}$/i.test(params.id!)) throw new HttpError(404, 'not a job id');
        const job = await deps.queue.job(params.kind as JobKind, params.id!);
        if (!job) throw new HttpError(404, 'no such job');
        return { json: { job } };
      },
    },
  ];
}

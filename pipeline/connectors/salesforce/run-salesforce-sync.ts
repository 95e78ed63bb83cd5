// Runs one Salesforce system of one tenant: each configured SObject is its own stream (checkpoint
// name = the SObject), extracted by Bulk API 2.0 queryAll windows (extractor.ts). A daily limit
// (403 REQUEST_LIMIT_EXCEEDED) pauses this tenant's remaining streams with a status and returns;
// a failing stream is marked failed and the next one runs. Other tenants have their own client,
// limiter and streams, so nothing here touches them. Called by `trueup sync` and the scheduler.
import { loadCheckpoint } from '../../../staging/checkpoints.js';
import { ApiClient, DailyLimitError } from '../http/api-client.js';
import { tenantEntityMapping } from '../map-record.js';
import {
  emptyStreamReport,
  finishReport,
  mergeLimits,
  pauseStreams,
  prepareSystem,
  runStream,
  type StreamReport,
  type SyncDeps,
  type SyncOptions,
  type SyncReport,
} from '../sync-support.js';
import { BulkQueryClient } from './bulk-query.js';
import { type SalesforceSystemConfig, salesforceResolvedConfig } from './config.js';
import { extractObject, type SalesforcePosition } from './extractor.js';
import { resolveMappings, SALESFORCE_FIELD } from './mapping.js';
import { SalesforcePolicy } from './policy.js';

export interface SalesforceSyncOptions extends SyncOptions {
  /** Returns a fresh access token after a 401 (OAuth refresh flow). */
  refreshToken?: () => Promise<string>;
  /** Bulk settings overrides (tests shorten polling). */
  bulk?: Partial<SalesforceSystemConfig['bulk']>;
}

export async function runSalesforceSync(
  deps: SyncDeps,
  tenant: string,
  systemName: string,
  systemConfig: unknown,
  opts: SalesforceSyncOptions = {},
): Promise<SyncReport> {
  const startedAt = Date.now();
  const logger = deps.logger.child({ tenant, system: systemName, connector: 'salesforce' });
  const prepared = prepareSystem(
    logger,
    { tenant, system: systemName, kind: 'salesforce', startedAt },
    () => {
      const parsed = salesforceResolvedConfig.parse(systemConfig);
      const config: SalesforceSystemConfig = { ...parsed, bulk: { ...parsed.bulk, ...opts.bulk } };
      const mappings = resolveMappings({
        role: config.role,
        ...(config.objects ? { objects: config.objects } : {}),
        entityOverrides: (entity) => tenantEntityMapping(opts.entities, entity, systemName, SALESFORCE_FIELD),
      }).filter((m) => !opts.streams || opts.streams.includes(m.sobject));
      return { config, mappings };
    },
  );
  if (!prepared.ok) return prepared.report;
  const { config, mappings } = prepared.value;
  const now = opts.now ?? Date.now;
  const policy = new SalesforcePolicy(config.accessToken, opts.refreshToken);
  const limits = mergeLimits(config.limits, opts.limits);
  const api = new ApiClient({ baseUrl: config.baseUrl, policy, limits, tenant, system: systemName, logger });
  const bulk = new BulkQueryClient(api, config.apiVersion, {
    minMs: config.bulk.pollMinMs,
    maxMs: config.bulk.pollMaxMs,
    timeoutMs: config.bulk.jobTimeoutMs,
  });
  const streams: StreamReport[] = [];
  let paused: DailyLimitError | null = null;
  try {
    // One cheap call first: the daily budget for the log, and Salesforce's clock (Date header)
    // before the first window is cut.
    try {
      const info = await api.json<{ DailyApiRequests?: { Max: number; Remaining: number } }>(
        'GET',
        `/services/data/v${config.apiVersion}/limits`,
      );
      if (info?.DailyApiRequests)
        logger.info({ dailyApiRequests: info.DailyApiRequests }, 'salesforce API budget');
    } catch (err) {
      if (!(err instanceof DailyLimitError)) logger.debug({ err }, 'could not read /limits; carrying on');
      else {
        paused = err;
        await pauseStreams(
          deps.staging.db,
          tenant,
          systemName,
          mappings.map((m) => m.sobject),
          err,
        );
        logger.warn({ err }, 'Salesforce daily API limit reached; tenant paused');
      }
    }
    for (let i = 0; i < mappings.length && !paused; i++) {
      const mapping = mappings[i]!;
      const key = { tenant, system: systemName, stream: mapping.sobject };
      const saved = (await loadCheckpoint(deps.staging.pool, key)) as SalesforcePosition | null | undefined;
      const start: SalesforcePosition =
        opts.mode === 'full' || !saved || saved.since === undefined ? { since: null } : saved;
      const report = emptyStreamReport(mapping.sobject, mapping.entity, start.since ? 'incremental' : 'full');
      streams.push(report);
      try {
        await runStream(deps.staging.db, key, report, logger, () =>
          extractObject(
            {
              deps,
              api,
              bulk,
              tenant,
              system: systemName,
              config,
              mapping,
              report,
              now,
              policy,
              maxStreamRetries: limits.maxRetries,
              backoff: { minMs: limits.minBackoffMs ?? 500, maxMs: limits.maxBackoffMs ?? 30_000 },
              ...(opts.onUnitStaged ? { onUnitStaged: opts.onUnitStaged } : {}),
            },
            start,
          ),
        );
      } catch (err) {
        if (!(err instanceof DailyLimitError)) throw err;
        paused = err;
        await pauseStreams(
          deps.staging.db,
          tenant,
          systemName,
          mappings.slice(i).map((m) => m.sobject),
          err,
        );
        logger.warn({ err, apiUsage: policy.apiUsage }, 'Salesforce daily API limit reached; tenant paused');
        break;
      }
    }
  } finally {
    await api.close();
  }
  const report = finishReport(
    { tenant, system: systemName, kind: 'salesforce', streams, ...api.stats },
    startedAt,
    paused,
  );
  logger.info(
    { status: report.status, requests: report.requests, retries: report.retries, apiUsage: policy.apiUsage },
    'salesforce sync finished',
  );
  return report;
}

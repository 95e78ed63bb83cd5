// The streams of a Salesforce system: one per configured SObject (checkpoint name = the SObject),
// each read by Bulk API 2.0 queryAll windows (extractor.ts). Before them, one cheap /limits call
// logs the daily budget and learns Salesforce's clock; a daily limit there pauses every stream.
import { DEFAULT_BACKOFF } from '../../../staging/model/backoff.js';
import type { SourcePass, StreamPlan, SystemHandle } from '../contract.js';
import { ApiClient, DailyLimitError, mergeLimits } from '../http/api-client.js';
import { refreshableToken } from '../http/refreshable-token.js';
import { tenantEntityMapping } from '../map-record.js';
import { BulkQueryClient } from './bulk-query.js';
import { validSalesforcePosition } from './checkpoint-shape.js';
import type { SalesforceSystemConfig } from './config.js';
import { extractObject, type SalesforcePosition } from './extractor.js';
import { type ObjectMapping, resolveMappings, SALESFORCE_FIELD } from './mapping.js';
import { SalesforcePolicy } from './policy.js';

/** The system's SObject mappings: defaults, the tenant's entity overrides, the system's own. */
export function salesforceMappings(
  sys: SystemHandle<SalesforceSystemConfig>,
  entities = sys.options.entities,
): ObjectMapping[] {
  const { config } = sys;
  return resolveMappings({
    role: config.role,
    ...(config.objects ? { objects: config.objects } : {}),
    entityOverrides: (entity) => tenantEntityMapping(entities, entity, sys.system, SALESFORCE_FIELD),
  });
}

/** The policy with the run's token refresh hook (refreshableToken: the fresh token is redacted too). */
export function salesforcePolicy(sys: SystemHandle<SalesforceSystemConfig>): SalesforcePolicy {
  const token = refreshableToken(sys.config.accessToken, sys.options.refreshAuth);
  const refresh = token.refreshAuth;
  return new SalesforcePolicy(
    token.token(),
    refresh &&
      (async () => {
        await refresh();
        return token.token();
      }),
  );
}

export function openSalesforcePass(sys: SystemHandle<SalesforceSystemConfig>): SourcePass {
  const { config, options: opts, tenant, system, logger } = sys;
  const mappings = salesforceMappings(sys).filter((m) => !opts.streams || opts.streams.includes(m.sobject));
  const now = opts.now ?? Date.now;
  const policy = salesforcePolicy(sys);
  const limits = mergeLimits(config.limits, opts.limits);
  const api = new ApiClient({ baseUrl: config.baseUrl, policy, limits, tenant, system, logger });
  const bulk = new BulkQueryClient(api, config.apiVersion, {
    minMs: config.bulk.pollMinMs,
    maxMs: config.bulk.pollMaxMs,
    timeoutMs: config.bulk.jobTimeoutMs,
  });
  const stream = (mapping: ObjectMapping): StreamPlan<SalesforcePosition> => ({
    name: mapping.sobject,
    entity: mapping.entity,
    start(saved) {
      const start: SalesforcePosition =
        opts.mode === 'full' || !saved || saved.since === undefined
          ? { since: null }
          : validSalesforcePosition(saved, { tenant, system, stream: mapping.sobject });
      return {
        mode: start.since ? 'incremental' : 'full',
        read: (out) =>
          extractObject(
            {
              out,
              api,
              bulk,
              tenant,
              system,
              config,
              mapping,
              now,
              policy,
              maxStreamRetries: limits.maxRetries,
              backoff: {
                minMs: limits.minBackoffMs ?? DEFAULT_BACKOFF.minMs,
                maxMs: limits.maxBackoffMs ?? DEFAULT_BACKOFF.maxMs,
              },
            },
            start,
          ),
      };
    },
  });
  return {
    streams: mappings.map(stream),
    async begin() {
      try {
        const info = await api.json<{ DailyApiRequests?: { Max: number; Remaining: number } }>(
          'GET',
          `/services/data/v${config.apiVersion}/limits`,
        );
        if (info?.DailyApiRequests)
          logger.info({ dailyApiRequests: info.DailyApiRequests }, 'salesforce API budget');
      } catch (err) {
        if (err instanceof DailyLimitError) throw err;
        logger.debug({ err }, 'could not read /limits; carrying on');
      }
    },
    stats: () => ({ ...api.stats }),
    close: () => api.close(),
  };
}

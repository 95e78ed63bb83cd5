// Runs one HubSpot system of one tenant: for each configured object type, its upsert stream
// (full list load, then incremental search) and its delete stream (archived list). An incremental
// run that finds a full load unfinished finishes it first, then searches from its start. A daily limit
// pauses the tenant's remaining streams with a status and returns; a failing stream is marked
// failed and the next one runs. Called by `trueup sync` and the scheduler.
import type pg from 'pg';
import { firstCheckpoint, loadCheckpoint } from '../../../staging/checkpoints.js';
import { ApiClient, DailyLimitError } from '../http/api-client.js';
import { tenantEntityMapping } from '../map-record.js';
import {
  emptyStreamReport,
  finishReport,
  mergeLimits,
  pauseStreams,
  prepareSystem,
  refreshableToken,
  runStream,
  type StreamReport,
  type SyncDeps,
  type SyncOptions,
  type SyncReport,
} from '../sync-support.js';
import { type HubspotObjectType, hubspotResolvedConfig } from './config.js';
import {
  type ArchivedPosition,
  type ExtractContext,
  extractArchived,
  extractFull,
  extractIncremental,
  type HubspotPosition,
} from './hubspot-extractor.js';
import { HUBSPOT_PROPERTY, hubspotEntity, hubspotObjectMapping } from './hubspot-mapping.js';
import { hubspotPolicy } from './hubspot-policy.js';

export async function runHubspotSync(
  deps: SyncDeps,
  tenant: string,
  systemName: string,
  systemConfig: unknown,
  opts: SyncOptions = {},
): Promise<SyncReport> {
  const startedAt = Date.now();
  const logger = deps.logger.child({ tenant, system: systemName, connector: 'hubspot' });
  const prepared = prepareSystem(logger, { tenant, system: systemName, kind: 'hubspot', startedAt }, () => {
    const config = hubspotResolvedConfig.parse(systemConfig);
    const mappings = new Map(
      config.objects.map((t) => {
        const tenantMapping = tenantEntityMapping(
          opts.entities,
          hubspotEntity(t),
          systemName,
          HUBSPOT_PROPERTY,
        );
        return [t, hubspotObjectMapping(t, config, tenantMapping)];
      }),
    );
    return { config, mappings };
  });
  if (!prepared.ok) return prepared.report;
  const { config, mappings } = prepared.value;
  const now = opts.now ?? Date.now;
  const token = refreshableToken(config.accessToken, opts.refreshAuth);
  // A 401 refreshes the token through the policy's hook, shared by the client's requests and
  // outside the transient retry budget (api-client.ts).
  const client = new ApiClient({
    baseUrl: config.baseUrl,
    policy: hubspotPolicy({
      token: token.token,
      now,
      ...(token.refreshAuth ? { refreshAuth: token.refreshAuth } : {}),
    }),
    limits: mergeLimits(config.limits, opts.limits),
    tenant,
    system: systemName,
    logger,
  });
  const types = config.objects.filter((t) => !opts.streams || opts.streams.includes(t));
  const streams: StreamReport[] = [];
  let paused: DailyLimitError | null = null;
  try {
    for (let i = 0; i < types.length; i++) {
      const type = types[i] as HubspotObjectType;
      const mapping = mappings.get(type)!;
      try {
        const key = { tenant, system: systemName, stream: type };
        const saved = (await loadCheckpoint(deps.staging.pool, key)) as HubspotPosition | null | undefined;
        const start = startPosition(saved, opts.mode ?? 'auto', now() - config.overlapMs);
        const report = emptyStreamReport(
          type,
          mapping.entity,
          start.phase === 'full' ? 'full' : 'incremental',
        );
        streams.push(report);
        const ctx: ExtractContext = {
          deps,
          client,
          tenant,
          system: systemName,
          config,
          type,
          mapping,
          report,
          now,
          ...(opts.onUnitStaged ? { onUnitStaged: opts.onUnitStaged } : {}),
        };
        const archivedKey = { ...key, stream: `${type}:archived` };
        const archivedStart = await firstArchivedStart(
          deps.staging.pool,
          archivedKey,
          start,
          () => now() - config.overlapMs,
        );
        await runStream(deps.staging.db, key, report, logger, async () => {
          if (start.phase === 'incremental') return extractIncremental(ctx, start);
          await extractFull(ctx, start);
          // An incremental run that found this object's full load unfinished has just finished it;
          // it goes on with the incremental part from the full load's watermark (its start minus
          // overlapMs), so what changed while the load was stopped is captured by this run too.
          if (resumesUnfinishedFull(saved, opts.mode ?? 'auto'))
            await extractIncremental(ctx, { phase: 'incremental', since: start.watermark });
        });

        const archivedReport = emptyStreamReport(archivedKey.stream, mapping.entity, report.mode);
        streams.push(archivedReport);
        await runStream(deps.staging.db, archivedKey, archivedReport, logger, () =>
          extractArchived({ ...ctx, report: archivedReport }, archivedStart),
        );
      } catch (err) {
        if (!(err instanceof DailyLimitError)) throw err;
        paused = err;
        const stopped = streams.at(-1)?.stream ?? type;
        const remaining = [stopped, ...types.slice(i + 1).flatMap((t) => [t, `${t}:archived`])];
        if (stopped === type) remaining.push(`${type}:archived`);
        await pauseStreams(deps.staging.db, tenant, systemName, remaining, err);
        logger.warn({ err, resumeAt: err.resumeAt }, 'HubSpot daily limit reached; tenant paused');
        break;
      }
    }
  } finally {
    await client.close();
  }
  return finishReport(
    { tenant, system: systemName, kind: 'hubspot', streams, ...client.stats },
    startedAt,
    paused,
  );
}

/**
 * Where a stream starts: a full load without a checkpoint or with mode `full`; otherwise its
 * checkpoint. A full load's checkpoint (mid-way: the process stopped during the list pagination)
 * resumes that load in every mode: searching from its watermark instead would never stage the
 * records the list had not reached, whose stamps are older than the watermark.
 */
function startPosition(
  saved: HubspotPosition | null | undefined,
  mode: 'auto' | 'full' | 'incremental',
  watermark: number,
): HubspotPosition {
  if (mode === 'full' || !saved || saved.phase === undefined)
    return { phase: 'full', after: null, watermark };
  return saved;
}

/**
 * Where the archived stream reads on from. Without a checkpoint, its first pass starts where the
 * full load's incremental watermark starts, and that start is saved before the object's upsert
 * stream runs: a run stopping between the two (a daily limit or a crash right after the full
 * load, or a failing first archived pass) would otherwise leave the next run to start from its
 * own "now", and a record the full load staged and that was archived meanwhile would stay live.
 */
async function firstArchivedStart(
  pool: pg.Pool,
  key: { tenant: string; system: string; stream: string },
  start: HubspotPosition,
  fallback: () => number,
): Promise<ArchivedPosition> {
  // An incremental checkpoint without an archived one (a run that stopped before the archived
  // pass, saved by an older version): its start is the earliest point known to be covered.
  const since = start.phase === 'full' ? start.watermark : Math.min(start.since, fallback());
  return (await firstCheckpoint<ArchivedPosition>(pool, key, { since, after: null, runStartedAt: null }))
    .position;
}

/** An incremental run over an unfinished full load: finish it, then search from its watermark. */
function resumesUnfinishedFull(
  saved: HubspotPosition | null | undefined,
  mode: 'auto' | 'full' | 'incremental',
): boolean {
  return mode === 'incremental' && saved?.phase === 'full';
}

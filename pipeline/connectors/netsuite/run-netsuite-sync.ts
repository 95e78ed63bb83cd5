// Runs one NetSuite system of one tenant: each configured record stream (full load by id, then
// incremental on lastmodifieddate), then the deletedrecord stream. A daily/request limit pauses
// the tenant's remaining streams with a status; a failing stream is marked failed and the next
// one runs. Called by `trueup sync` and the scheduler.
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
import { netsuiteResolvedConfig } from './config.js';
import {
  type DeletedPosition,
  extractDeletes,
  extractStream,
  type NetsuiteContext,
  type NetsuitePosition,
  toStamp,
} from './netsuite-extractor.js';
import { netsuiteEntity, netsuiteStreamSpec, SUITEQL_COLUMN } from './netsuite-mapping.js';
import { bearerSigner, type NetsuiteSigner, netsuitePolicy, oauth1Signer } from './netsuite-policy.js';

export async function runNetsuiteSync(
  deps: SyncDeps,
  tenant: string,
  systemName: string,
  systemConfig: unknown,
  opts: SyncOptions = {},
): Promise<SyncReport> {
  const startedAt = Date.now();
  const logger = deps.logger.child({ tenant, system: systemName, connector: 'netsuite' });
  const prepared = prepareSystem(logger, { tenant, system: systemName, kind: 'netsuite', startedAt }, () => {
    const config = netsuiteResolvedConfig.parse(systemConfig);
    const specs = new Map(
      config.streams.map((s) => {
        const tenantMapping = tenantEntityMapping(
          opts.entities,
          netsuiteEntity(s),
          systemName,
          SUITEQL_COLUMN,
        );
        return [s, netsuiteStreamSpec(s, config, tenantMapping)];
      }),
    );
    return { config, specs };
  });
  if (!prepared.ok) return prepared.report;
  const { config, specs } = prepared.value;
  const now = opts.now ?? Date.now;
  const bearer = refreshableToken(config.accessToken ?? '', opts.refreshAuth);
  const signer: NetsuiteSigner = config.oauth1 ? oauth1Signer(config.oauth1) : bearerSigner(bearer.token);
  const client = new ApiClient({
    baseUrl: config.baseUrl,
    policy: netsuitePolicy({
      signer,
      ...(bearer.refreshAuth ? { refreshAuth: bearer.refreshAuth } : {}),
    }),
    limits: mergeLimits(config.limits, opts.limits),
    tenant,
    system: systemName,
    logger,
  });
  // One watermark for the run: full loads hand over to incremental here, and a first delete pass starts here.
  const watermark = toStamp(now() - config.overlapMs);
  const streams = config.streams.filter((s) => !opts.streams || opts.streams.includes(s));
  const planned: string[] = [...streams, ...(config.deletes ? ['deletedrecord'] : [])];
  const reports: StreamReport[] = [];
  let paused: DailyLimitError | null = null;
  const base = (report: StreamReport): NetsuiteContext => ({
    deps,
    client,
    tenant,
    system: systemName,
    config,
    specs,
    report,
    ...(opts.onUnitStaged ? { onUnitStaged: opts.onUnitStaged } : {}),
  });
  try {
    // The delete stream's first start is saved before the record streams run: a run stopped
    // before that stream (a daily limit or crash during a full load) would otherwise leave the
    // next run to start it at its own watermark, and a record the load staged and that was
    // deleted meanwhile would stay live.
    const firstDeletes = config.deletes
      ? (
          await firstCheckpoint<DeletedPosition>(
            deps.staging.pool,
            { tenant, system: systemName, stream: 'deletedrecord' },
            { since: watermark, lastId: 0 },
          )
        ).created
      : false;
    for (const [i, stream] of planned.entries()) {
      const key = { tenant, system: systemName, stream };
      const saved = await loadCheckpoint(deps.staging.pool, key);
      try {
        if (stream === 'deletedrecord') {
          const report = emptyStreamReport(
            stream,
            'customer',
            saved && !firstDeletes ? 'incremental' : 'full',
          );
          reports.push(report);
          const start = (saved as DeletedPosition | null | undefined) ?? { since: watermark, lastId: 0 };
          await runStream(deps.staging.db, key, report, logger, () =>
            extractDeletes(base(report), streams, start),
          );
          continue;
        }
        const s = stream as (typeof streams)[number];
        const start = startPosition(
          saved as NetsuitePosition | null | undefined,
          opts.mode ?? 'auto',
          watermark,
        );
        const report = emptyStreamReport(
          stream,
          specs.get(s)!.entity,
          start.phase === 'full' ? 'full' : 'incremental',
        );
        reports.push(report);
        await runStream(deps.staging.db, key, report, logger, async () => {
          await extractStream(base(report), s, start);
          // An incremental run that found this stream's full load unfinished has just finished it;
          // it goes on with the incremental part from the full load's watermark, so what changed
          // while the load was stopped is captured by this run too.
          if (start.phase === 'full' && resumesUnfinishedFull(saved, opts.mode ?? 'auto'))
            await extractStream(base(report), s, { phase: 'incremental', since: start.watermark, lastId: 0 });
        });
      } catch (err) {
        if (!(err instanceof DailyLimitError)) throw err;
        paused = err;
        await pauseStreams(deps.staging.db, tenant, systemName, planned.slice(i), err);
        logger.warn({ err }, 'NetSuite request limit reached; tenant paused');
        break;
      }
    }
  } finally {
    await client.close();
  }
  return finishReport(
    { tenant, system: systemName, kind: 'netsuite', streams: reports, ...client.stats },
    startedAt,
    paused,
  );
}

/**
 * Where a stream starts: a full load without a checkpoint or with mode `full`; otherwise its
 * checkpoint. A full load's checkpoint (mid-way: the process stopped during the keyset paging)
 * resumes that load in every mode: querying from its watermark instead would never stage the
 * records the load had not reached, whose stamps are older than the watermark.
 */
function startPosition(
  saved: NetsuitePosition | null | undefined,
  mode: 'auto' | 'full' | 'incremental',
  watermark: string,
): NetsuitePosition {
  if (mode === 'full' || !saved || saved.phase === undefined) return { phase: 'full', lastId: 0, watermark };
  return saved;
}

/** An incremental run over an unfinished full load: finish it, then query from its watermark. */
function resumesUnfinishedFull(saved: unknown, mode: 'auto' | 'full' | 'incremental'): boolean {
  return mode === 'incremental' && (saved as NetsuitePosition | null | undefined)?.phase === 'full';
}

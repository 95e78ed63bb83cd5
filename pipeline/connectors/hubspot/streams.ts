// The streams of a HubSpot system: for each configured object type, its upsert stream (full list
// load, then incremental search; checkpoint name = the type) and its delete stream (archived
// list; `<type>:archived`).
import type pg from 'pg';
import { firstCheckpoint } from '../../../staging/checkpoints.js';
import type { SourcePass, StreamPlan, SystemHandle } from '../contract.js';
import { phasedStart } from '../full-then-incremental.js';
import { refreshingClient } from '../http/system-client.js';
import { objectMappings } from '../map-record.js';
import type { HubspotObjectType, HubspotSystemConfig } from './config.js';
import {
  type ArchivedPosition,
  extractArchived,
  extractFull,
  extractIncremental,
  type HubspotPosition,
} from './hubspot-extractor.js';
import { HUBSPOT_PROPERTY, hubspotEntity, hubspotObjectMapping } from './hubspot-mapping.js';
import { hubspotPolicy } from './hubspot-policy.js';

export function openHubspotPass(sys: SystemHandle<HubspotSystemConfig>): SourcePass {
  const { config, options: opts, tenant, system } = sys;
  const objects = { names: config.objects, entityOf: hubspotEntity, rule: HUBSPOT_PROPERTY };
  const mappings = objectMappings(sys, objects, (t, tm) => hubspotObjectMapping(t, config, tm));
  const now = opts.now ?? Date.now;
  // A 401 refreshes the token through the policy's hook, shared by the client's requests and
  // outside the transient retry budget (api-client.ts).
  const client = refreshingClient(sys, config.accessToken, (auth) => hubspotPolicy({ ...auth, now }));
  const objectStreams = (type: HubspotObjectType): StreamPlan[] => {
    const mapping = mappings.get(type)!;
    const base = { client, tenant, system, config, type, mapping, now };
    const archivedKey = { tenant, system, stream: `${type}:archived` };
    let mode: 'full' | 'incremental' = 'full';
    let archivedStart: ArchivedPosition | undefined;
    const upsert: StreamPlan<HubspotPosition> = {
      name: type,
      entity: mapping.entity,
      async start(saved) {
        const start = phasedStart(saved, opts.mode ?? 'auto', () => ({
          phase: 'full',
          after: null,
          watermark: now() - config.overlapMs,
        }));
        mode = start.mode;
        archivedStart = await firstArchivedStart(
          sys.staging.pool,
          archivedKey,
          start.position,
          () => now() - config.overlapMs,
        );
        const position = start.position;
        return {
          mode,
          read: async (out) => {
            const ctx = { ...base, out };
            if (position.phase === 'incremental') return extractIncremental(ctx, position);
            await extractFull(ctx, position);
            if (start.thenIncremental)
              await extractIncremental(ctx, { phase: 'incremental', since: position.watermark });
          },
        };
      },
    };
    const archived: StreamPlan<ArchivedPosition> = {
      name: archivedKey.stream,
      entity: mapping.entity,
      start: (saved) => ({
        mode,
        read: (out) => extractArchived({ ...base, out }, saved ?? archivedStart!),
      }),
    };
    return [upsert, archived];
  };
  return {
    streams: config.objects.filter((t) => !opts.streams || opts.streams.includes(t)).flatMap(objectStreams),
    stats: () => ({ ...client.stats }),
    close: () => client.close(),
  };
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

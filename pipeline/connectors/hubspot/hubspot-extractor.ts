// Extracts one HubSpot object type into staging, page group by page group, each committed with
// its stream checkpoint (the HubSpot cursor) in one transaction.
//
//   no checkpoint ──full──> list GET /crm/v3/objects/{type}?after=…   checkpoint {phase:'full', after, watermark}
//                            (last page has no `paging`)             → {phase:'incremental', since: watermark}
//   incremental ───────────> search POST …/search, stamp GTE since, ascending
//        │ page after ≥ cap (10,000) and the stamp moved: new search GTE last stamp seen
//        │ page after ≥ cap and every result shares one millisecond: drain that millisecond
//        └──────────────────> by hs_object_id (EQ stamp, id GT last id, sorted by id), then since = stamp + 1
//   deletes ───────────────> list archived=true, tombstones for archivedAt ≥ since (stream "<type>:archived")
//
// Invariants: a checkpoint never runs ahead of committed rows; a restart repeats at most the
// records of one stamp (harmless: the staging version guard ignores identical versions); search
// results stamped before `since` (HubSpot returns a few) are dropped.
import type { Change } from '../../../staging/model/change.js';
import type { ApiClient } from '../http/api-client.js';
import { ApiError } from '../http/api-client.js';
import { mapRecord, parseStampMs } from '../map-record.js';
import {
  addChange,
  commitStreamUnit,
  msToVersion,
  newPendingUnit,
  type PendingUnit,
  type StreamReport,
  type SyncDeps,
} from '../sync-support.js';
import type { HubspotObjectType, HubspotSystemConfig } from './config.js';
import { type HubspotObjectMapping, hubspotProperties } from './hubspot-mapping.js';

export interface HubspotRecord {
  id: string;
  properties: Record<string, string | null>;
  createdAt?: string;
  updatedAt?: string;
  archived?: boolean;
  archivedAt?: string;
}

interface Paging {
  next?: { after: string; link?: string };
}
interface ListPage {
  results: HubspotRecord[];
  paging?: Paging;
}
interface SearchPage extends ListPage {
  total: number;
}

export type HubspotPosition =
  | { phase: 'full'; after: string | null; watermark: number }
  | { phase: 'incremental'; since: number; tie?: { at: number; afterId: string | null } };

export interface ArchivedPosition {
  since: number;
  after: string | null;
  runStartedAt: number | null;
}

export interface ExtractContext {
  deps: SyncDeps;
  client: ApiClient;
  tenant: string;
  system: string;
  config: HubspotSystemConfig;
  type: HubspotObjectType;
  mapping: HubspotObjectMapping;
  report: StreamReport;
  now: () => number;
  onUnitStaged?: (info: { stream: string; rows: number; position: unknown }) => void | Promise<void>;
}

const base = (type: string) => `crm/v3/objects/${type}`;

export async function extractFull(
  ctx: ExtractContext,
  start: HubspotPosition & { phase: 'full' },
): Promise<void> {
  const { client, config, type } = ctx;
  const properties = hubspotProperties(ctx.mapping).join(',');
  const unit = newPendingUnit();
  let after = start.after;
  for (;;) {
    const page = await client.json<ListPage>('GET', base(type), {
      query: { limit: config.listPageSize, after: after ?? undefined, properties, archived: 'false' },
    });
    for (const r of page.results) addRecord(ctx, unit, r, null);
    after = page.paging?.next?.after ?? null;
    if (after === null) {
      await commit(ctx, type, { phase: 'incremental', since: start.watermark }, unit);
      return;
    }
    if (unit.rows >= config.stageBatchRows)
      await commit(ctx, type, { phase: 'full', after, watermark: start.watermark }, unit);
  }
}

export async function extractIncremental(
  ctx: ExtractContext,
  start: HubspotPosition & { phase: 'incremental' },
): Promise<void> {
  const { config } = ctx;
  const unit = newPendingUnit();
  let pos: HubspotPosition & { phase: 'incremental' } = start;
  for (;;) {
    if (pos.tie) {
      pos = await drainTies(ctx, unit, pos.tie.at, pos.tie.afterId);
      continue;
    }
    const passSince = pos.since;
    let after = 0;
    let lastStamp: number | null = null;
    let capped = false;
    for (;;) {
      let page: SearchPage;
      try {
        page = await search(ctx, passSince, after);
      } catch (err) {
        // A lower cap than configured shows up as HubSpot's 400 on a deep page: treat it as the cap.
        if (err instanceof ApiError && err.status === 400 && after > 0) {
          capped = true;
          break;
        }
        throw err;
      }
      for (const r of page.results) {
        const stamp = recordStamp(ctx, r);
        if (stamp !== null && stamp < passSince) continue;
        addRecord(ctx, unit, r, stamp);
        if (stamp !== null) lastStamp = stamp;
      }
      const next = page.paging?.next?.after;
      const position = { phase: 'incremental' as const, since: lastStamp ?? passSince };
      if (next === undefined) {
        await commit(ctx, ctx.type, position, unit);
        return;
      }
      after = Number(next);
      if (after >= config.searchResultCap) {
        capped = true;
        break;
      }
      if (unit.rows >= config.stageBatchRows) await commit(ctx, ctx.type, position, unit);
    }
    if (!capped) return;
    if (lastStamp !== null && lastStamp > passSince) pos = { phase: 'incremental', since: lastStamp };
    else pos = { phase: 'incremental', since: passSince, tie: { at: passSince, afterId: null } };
    await commit(ctx, ctx.type, pos, unit);
  }
}

/** Reads every record stamped exactly `at` in hs_object_id order, restarting below the cap. */
async function drainTies(
  ctx: ExtractContext,
  unit: PendingUnit,
  at: number,
  startAfterId: string | null,
): Promise<HubspotPosition & { phase: 'incremental' }> {
  let afterId = startAfterId;
  for (;;) {
    let after = 0;
    let restart = false;
    // One query per window: its id bound stays fixed while `after` pages through it.
    const from = afterId;
    for (;;) {
      const page = await search(ctx, at, after, from);
      for (const r of page.results) {
        addRecord(ctx, unit, r, recordStamp(ctx, r));
        afterId = r.id;
      }
      const next = page.paging?.next?.after;
      const position = { phase: 'incremental' as const, since: at, tie: { at, afterId } };
      if (next === undefined) {
        const done = { phase: 'incremental' as const, since: at + 1 };
        await commit(ctx, ctx.type, done, unit);
        return done;
      }
      after = Number(next);
      if (after >= ctx.config.searchResultCap) restart = true;
      if (restart || unit.rows >= ctx.config.stageBatchRows) await commit(ctx, ctx.type, position, unit);
      if (restart) break;
    }
  }
}

function search(
  ctx: ExtractContext,
  since: number,
  after: number,
  tieAfterId?: string | null,
): Promise<SearchPage> {
  const mod = ctx.mapping.modifiedProperty;
  const filters =
    tieAfterId === undefined
      ? [{ propertyName: mod, operator: 'GTE', value: String(since) }]
      : [
          { propertyName: mod, operator: 'EQ', value: String(since) },
          ...(tieAfterId === null
            ? []
            : [{ propertyName: 'hs_object_id', operator: 'GT', value: tieAfterId }]),
        ];
  return ctx.client.json<SearchPage>('POST', `${base(ctx.type)}/search`, {
    body: {
      filterGroups: [{ filters }],
      sorts: [{ propertyName: tieAfterId === undefined ? mod : 'hs_object_id', direction: 'ASCENDING' }],
      properties: hubspotProperties(ctx.mapping),
      limit: ctx.config.searchPageSize,
      after: String(after),
    },
  });
}

/** Deletes: every archived record whose archivedAt is at or after the stream's `since`. */
export async function extractArchived(ctx: ExtractContext, start: ArchivedPosition): Promise<void> {
  const stream = `${ctx.type}:archived`;
  const unit = newPendingUnit();
  const runStartedAt = start.runStartedAt ?? ctx.now() - ctx.config.overlapMs;
  let after = start.after;
  for (;;) {
    const page = await ctx.client.json<ListPage>('GET', base(ctx.type), {
      query: {
        limit: ctx.config.listPageSize,
        after: after ?? undefined,
        archived: 'true',
        properties: 'hs_object_id',
      },
    });
    for (const r of page.results) {
      ctx.report.received++;
      const at = parseStampMs(r.archivedAt) ?? parseStampMs(r.updatedAt);
      if (at === null) {
        deadLetter(ctx, unit, r, 'archived record without archivedAt/updatedAt');
        continue;
      }
      if (at < start.since) continue;
      const change: Change = {
        sourceId: r.id,
        version: msToVersion(at),
        op: 'delete',
        raw: r,
        sourceUpdatedAt: new Date(at).toISOString(),
      };
      addChange(unit, ctx.mapping.entity, change);
    }
    after = page.paging?.next?.after ?? null;
    if (after === null) {
      await commit(ctx, stream, { since: runStartedAt, after: null, runStartedAt: null }, unit);
      return;
    }
    if (unit.rows >= ctx.config.stageBatchRows)
      await commit(ctx, stream, { since: start.since, after, runStartedAt }, unit);
  }
}

function recordStamp(ctx: ExtractContext, r: HubspotRecord): number | null {
  return parseStampMs(r.properties?.[ctx.mapping.modifiedProperty]) ?? parseStampMs(r.updatedAt);
}

function addRecord(ctx: ExtractContext, unit: PendingUnit, r: HubspotRecord, known: number | null): void {
  ctx.report.received++;
  if (!r || typeof r.id !== 'string' || !r.id || typeof r.properties !== 'object' || !r.properties) {
    deadLetter(ctx, unit, r, 'record without id or properties');
    return;
  }
  const stamp = known ?? recordStamp(ctx, r);
  if (stamp === null) {
    deadLetter(ctx, unit, r, `record ${r.id} has no readable ${ctx.mapping.modifiedProperty} or updatedAt`);
    return;
  }
  let fields: Record<string, unknown>;
  try {
    fields = mapRecord(ctx.mapping.entity, ctx.mapping.mapping, (p) => r.properties[p]);
  } catch (err) {
    deadLetter(ctx, unit, r, (err as Error).message);
    return;
  }
  fields[ctx.config.role === 'crm' ? 'crm_ref' : 'erp_ref'] = r.id;
  addChange(unit, ctx.mapping.entity, {
    sourceId: r.id,
    version: msToVersion(stamp),
    op: 'upsert',
    fields,
    raw: r,
    sourceUpdatedAt: new Date(stamp).toISOString(),
    ...(ctx.mapping.mappingVersion ? { mappingVersion: ctx.mapping.mappingVersion } : {}),
  });
}

function deadLetter(ctx: ExtractContext, unit: PendingUnit, r: unknown, reason: string): void {
  const id = (r as { id?: unknown } | null)?.id;
  unit.deadLetters.push({
    tenant: ctx.tenant,
    system: ctx.system,
    entity: ctx.mapping.entity,
    sourceId: typeof id === 'string' ? id : null,
    record: { raw: r },
    errorKind: 'mapping',
    errorMessage: `hubspot ${ctx.type} ${typeof id === 'string' ? id : '(no id)'}: ${reason}`,
    location: `hubspot ${ctx.type}`,
  });
}

function commit(ctx: ExtractContext, stream: string, position: unknown, unit: PendingUnit): Promise<void> {
  return commitStreamUnit(ctx, stream, position, unit, `hubspot ${stream}`);
}

// The bounded re-read of a `hubspot` system (backfill, issue 18), for each object type of the
// entity: a window [from, to) of the modification stamp through the search API — both bounds as
// filters, paged by keyset on hs_object_id (every page a new search from its first result, so the
// 10,000-result cap is never reached and a record modified while paging shifts nothing, WIRE.md
// "Reading") — or given record ids through batch read (at most 100 inputs a call). Records map
// exactly as the extraction maps them (addRecord); no checkpoint moves. Deletes of the slice come
// from the archived list (`archived=true`, what the `<type>:archived` stream reads; search shows
// live records only): records archived within the window, or, of the given ids that are no live
// record, those HubSpot lists as archived — an id that is simply absent is never a tombstone.
// The list has no filter on archivedAt or id, so that part reads the whole archived list.
import {
  type RereadRequest,
  type SourcePass,
  type StreamPlan,
  type SystemHandle,
  windowOrIds,
} from '../contract.js';
import { refreshingClient } from '../http/system-client.js';
import { objectMappings, parseStampMs, stampProblem } from '../map-record.js';
import { addChange, newPendingUnit } from '../pending-unit.js';
import type { HubspotObjectType, HubspotSystemConfig } from './config.js';
import {
  addRecord,
  archivedListPage,
  archivedTombstone,
  type ExtractContext,
  withAssociations,
} from './hubspot-extractor.js';
import {
  HUBSPOT_PROPERTY,
  hubspotEntity,
  hubspotObjectMapping,
  hubspotProperties,
} from './hubspot-mapping.js';
import { type HubspotSearchPage, hubspotBatchReadPage, hubspotSearchPage } from './hubspot-pages.js';
import { hubspotPolicy } from './hubspot-policy.js';

/** Inputs per batch read (WIRE.md "Batch upsert": the batch endpoints take at most 100). */
const BATCH_READ_LIMIT = 100;

export function rereadHubspot(sys: SystemHandle<HubspotSystemConfig>, request: RereadRequest): SourcePass {
  const slice = windowOrIds('hubspot', request);
  const { config, options: opts, tenant, system } = sys;
  const types = config.objects.filter((t) => hubspotEntity(t) === request.entity);
  const objects = { names: types, entityOf: hubspotEntity, rule: HUBSPOT_PROPERTY };
  const mappings = objectMappings(sys, objects, (t, tm) => hubspotObjectMapping(t, config, tm));
  const now = opts.now ?? Date.now;
  const client = refreshingClient(sys, config.accessToken, (auth) => hubspotPolicy({ ...auth, now }));
  const stream = (type: HubspotObjectType): StreamPlan => ({
    name: type,
    entity: request.entity,
    start: () => ({
      mode: 'full',
      read: async (out) => {
        const ctx: ExtractContext = {
          out,
          client,
          tenant,
          system,
          config,
          type,
          mapping: mappings.get(type)!,
          now,
        };
        if ('ids' in slice) return readIds(ctx, slice.ids);
        const from = Date.parse(slice.window.from);
        const to = Date.parse(slice.window.to);
        await readWindow(ctx, from, to);
        const n = await readArchived(ctx, (_id, at) => at >= from && at < to);
        if (n) out.note(`${n} record(s) archived in the window: tombstoned`);
      },
    }),
  });
  return { streams: types.map(stream), stats: () => ({ ...client.stats }), close: () => client.close() };
}

async function readWindow(ctx: ExtractContext, from: number, to: number): Promise<void> {
  const mod = ctx.mapping.modifiedProperty;
  let lastId: string | null = null;
  for (;;) {
    const page: HubspotSearchPage = await ctx.client.json('POST', `crm/v3/objects/${ctx.type}/search`, {
      schema: hubspotSearchPage,
      about: `${ctx.type} (${ctx.mapping.entity}), re-read`,
      body: {
        filterGroups: [
          {
            filters: [
              { propertyName: mod, operator: 'GTE', value: String(from) },
              { propertyName: mod, operator: 'LT', value: String(to) },
              ...(lastId === null ? [] : [{ propertyName: 'hs_object_id', operator: 'GT', value: lastId }]),
            ],
          },
        ],
        sorts: [{ propertyName: 'hs_object_id', direction: 'ASCENDING' }],
        properties: hubspotProperties(ctx.mapping),
        limit: ctx.config.searchPageSize,
        after: '0',
      },
    });
    const unit = newPendingUnit();
    await withAssociations(ctx, page.results);
    for (const r of page.results) {
      lastId = r.id;
      // Search returns a few records just before a GTE bound (index lag): not in the window.
      const stamp = Date.parse(String(r.properties?.[mod] ?? r.updatedAt ?? ''));
      if (!Number.isNaN(stamp) && (stamp < from || stamp >= to)) continue;
      addRecord(ctx, unit, r, null);
    }
    await ctx.out.commit({ lastId }, unit, `hubspot ${ctx.type} re-read`);
    if (page.paging?.next === undefined || page.results.length === 0) return;
  }
}

async function readIds(ctx: ExtractContext, ids: readonly string[]): Promise<void> {
  const unique = [...new Set(ids)];
  const missing = new Set<string>();
  for (let i = 0; i < unique.length; i += BATCH_READ_LIMIT) {
    const chunk = unique.slice(i, i + BATCH_READ_LIMIT);
    // Ids without a live record come back as a 207 error naming them; the others as results. An
    // answer that accounts for neither is transient (hubspot-pages.ts), never "absent".
    const res = await ctx.client.json('POST', `crm/v3/objects/${ctx.type}/batch/read`, {
      query: { archived: 'false' },
      schema: hubspotBatchReadPage('hs_object_id', chunk),
      about: `${ctx.type} (${ctx.mapping.entity}), re-read by id`,
      body: { properties: hubspotProperties(ctx.mapping), inputs: chunk.map((id) => ({ id })) },
    });
    const unit = newPendingUnit();
    const results = res.results.filter((r) => chunk.includes(r?.id));
    await withAssociations(ctx, results);
    for (const r of results) addRecord(ctx, unit, r, null);
    for (const id of chunk) if (!results.some((r) => r.id === id)) missing.add(id);
    await ctx.out.commit({ done: i + chunk.length }, unit, `hubspot ${ctx.type} re-read`);
  }
  if (!missing.size) return;
  // Only HubSpot's word that a record is archived makes a tombstone; an id that is neither live
  // nor archived (another object type's, a typo, purged) stays as staged.
  const archived = new Set<string>();
  await readArchived(
    ctx,
    (id) => missing.has(id) && !!archived.add(id),
    () => archived.size === missing.size,
  );
  const absent = missing.size - archived.size;
  const notes = [
    ...(archived.size ? [`${archived.size} id(s) archived: tombstoned`] : []),
    ...(absent
      ? [
          `${absent} id(s) are no live ${ctx.type} record and not archived (another object type's?): left as staged`,
        ]
      : []),
  ];
  if (notes.length) ctx.out.note(notes.join('; '));
}

/**
 * Pages the archived list of the type and stages a tombstone (version = archivedAt, as the
 * archived stream stages it) for each record `take` accepts; stops early once `done`. Returns how
 * many it staged. A record whose archivedAt is unreadable is skipped (the archived stream
 * dead-letters it).
 */
async function readArchived(
  ctx: ExtractContext,
  take: (id: string, archivedAt: number) => boolean,
  done: () => boolean = () => false,
): Promise<number> {
  let after: string | null = null;
  let staged = 0;
  const now = ctx.now();
  for (;;) {
    const page = await archivedListPage(ctx, after, `${ctx.type} (${ctx.mapping.entity}), archived, re-read`);
    const unit = newPendingUnit();
    for (const r of page.results) {
      const at = parseStampMs(r.archivedAt) ?? parseStampMs(r.updatedAt);
      if (at === null || stampProblem(at, now, 'archivedAt') !== null || !take(r.id, at)) continue;
      ctx.out.received();
      addChange(unit, ctx.mapping.entity, archivedTombstone(r, at));
      staged++;
    }
    after = page.paging?.next?.after ?? null;
    if (unit.rows) await ctx.out.commit({ after }, unit, `hubspot ${ctx.type}:archived re-read`);
    if (after === null || done()) return staged;
  }
}

// The bounded re-read of a `hubspot` system (backfill, issue 18), for each object type of the
// entity: a window [from, to) of the modification stamp through the search API — both bounds as
// filters, paged by keyset on hs_object_id (every page a new search from its first result, so the
// 10,000-result cap is never reached and a record modified while paging shifts nothing, WIRE.md
// "Reading") — or given record ids through batch read (at most 100 inputs a call). Records map
// exactly as the extraction maps them (addRecord); no checkpoint moves. Deletes are not re-read:
// search and batch read show live records only; the `<type>:archived` stream stages them.
import type { RereadRequest, SourcePass, StreamOutput, StreamPlan, SystemHandle } from '../contract.js';
import { refreshingClient } from '../http/system-client.js';
import { objectMappings } from '../map-record.js';
import { newPendingUnit } from '../pending-unit.js';
import type { HubspotObjectType, HubspotSystemConfig } from './config.js';
import { addRecord, type ExtractContext, type HubspotRecord } from './hubspot-extractor.js';
import {
  HUBSPOT_PROPERTY,
  hubspotEntity,
  hubspotObjectMapping,
  hubspotProperties,
} from './hubspot-mapping.js';
import { type HubspotSearchPage, hubspotSearchPage } from './hubspot-pages.js';
import { hubspotPolicy } from './hubspot-policy.js';

/** Inputs per batch read (WIRE.md "Batch upsert": the batch endpoints take at most 100). */
const BATCH_READ_LIMIT = 100;

export function rereadHubspot(sys: SystemHandle<HubspotSystemConfig>, request: RereadRequest): SourcePass {
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
      read: (out) => {
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
        return 'ids' in request
          ? readIds(ctx, request.ids)
          : readWindow(ctx, Date.parse(request.window.from), Date.parse(request.window.to));
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
  let missing = 0;
  for (let i = 0; i < unique.length; i += BATCH_READ_LIMIT) {
    const chunk = unique.slice(i, i + BATCH_READ_LIMIT);
    // Ids without a live record come back as a 207 error naming them; the others as results.
    const res = await ctx.client.json<{ results?: HubspotRecord[] }>(
      'POST',
      `crm/v3/objects/${ctx.type}/batch/read`,
      {
        query: { archived: 'false' },
        about: `${ctx.type} (${ctx.mapping.entity}), re-read by id`,
        body: { properties: hubspotProperties(ctx.mapping), inputs: chunk.map((id) => ({ id })) },
      },
    );
    const unit = newPendingUnit();
    const results = (res.results ?? []).filter((r) => chunk.includes(r?.id));
    for (const r of results) addRecord(ctx, unit, r, null);
    missing += chunk.length - results.length;
    await ctx.out.commit({ done: i + chunk.length }, unit, `hubspot ${ctx.type} re-read`);
  }
  if (missing) noteMissing(ctx.out, missing, ctx.type);
}

function noteMissing(out: StreamOutput, n: number, type: string): void {
  out.note(`${n} id(s) are no live ${type} record (archived, or another object type's)`);
}

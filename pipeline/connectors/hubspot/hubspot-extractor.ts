// Extracts one HubSpot object type into staging, page group by page group, each committed with
// its stream checkpoint (the HubSpot cursor) in one transaction: a full list load, then keyset
// searches on the modification stamp (a millisecond with more records than a page is drained by
// hs_object_id), and the archived list for deletes (stream "<type>:archived"). A checkpoint never
// runs ahead of committed rows nor moves back; a run repeats its overlap (harmless: the version
// guard). The diagram: docs/capture.md, "HubSpot".
import type { Change } from '../../../staging/model/change.js';
import type { StreamOutput } from '../contract.js';
import type { ApiClient } from '../http/api-client.js';
import { mapRecord, msToVersion, ownValue, parseStampMs, stampProblem } from '../map-record.js';
import { addChange, newPendingUnit, type PendingUnit } from '../pending-unit.js';
import type { HubspotObjectType, HubspotSystemConfig } from './config.js';
import { type AssociationPage, associationPage, attachAssociations } from './hubspot-associations.js';
import { type HubspotObjectMapping, hubspotProperties } from './hubspot-mapping.js';
import {
  type HubspotListPage,
  type HubspotRecord,
  type HubspotSearchPage,
  hubspotListPage,
  hubspotSearchPage,
} from './hubspot-pages.js';

export type { HubspotRecord } from './hubspot-pages.js';

export type HubspotPosition =
  | { phase: 'full'; after: string | null; watermark: number }
  | { phase: 'incremental'; since: number; tie?: { at: number; afterId: string | null } };

export interface ArchivedPosition {
  since: number;
  after: string | null;
  runStartedAt: number | null;
}

export interface ExtractContext {
  /** Where units go: staged with the position after them (the stream runner). */
  out: StreamOutput;
  client: ApiClient;
  tenant: string;
  system: string;
  config: HubspotSystemConfig;
  type: HubspotObjectType;
  mapping: HubspotObjectMapping;
  now: () => number;
}

const base = (type: string) => `crm/v3/objects/${type}`;
/** What a request reads, for error messages: "companies (customer)". */
const about = (ctx: ExtractContext) => `${ctx.type} (${ctx.mapping.entity})`;

export async function extractFull(
  ctx: ExtractContext,
  start: HubspotPosition & { phase: 'full' },
): Promise<void> {
  const { client, config, type } = ctx;
  const properties = hubspotProperties(ctx.mapping).join(',');
  const unit = newPendingUnit();
  let after = start.after;
  for (;;) {
    const page = await client.json('GET', base(type), {
      query: { limit: config.listPageSize, after: after ?? undefined, properties, archived: 'false' },
      schema: hubspotListPage,
      about: about(ctx),
    });
    await withAssociations(ctx, page.results);
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
  const unit = newPendingUnit();
  // The checkpoint never moves back below where this run started, even while the overlap is re-read.
  const floor = start.since;
  const position = (since: number) => ({ phase: 'incremental' as const, since: Math.max(floor, since) });
  let since = start.since;
  if (start.tie) {
    await drainTies(ctx, unit, start.tie.at, start.tie.afterId, floor, new Set());
    since = start.tie.at + 1;
  }
  // A record becomes searchable a little after its stamp (index lag): every run re-reads
  // overlapMs before its checkpoint, so a record that was not searchable yet last time is found.
  since -= ctx.config.overlapMs;
  // Ids already read whose stamp equals `since`: the next search from `since` returns them again.
  let seen = new Set<string>();
  for (;;) {
    // Keyset paging: every page is a new search from the last stamp read (no `after` offsets), so
    // a record modified while paging (it moves to the end of the order) cannot shift an unread
    // record back past a page boundary, and the 10,000-result cap is never reached.
    const page = await search(ctx, since, 0);
    await withAssociations(ctx, page.results);
    let last: number | null = null;
    // Results come in stamp order: after a record stamped in the future, every one is.
    let future = false;
    const now = ctx.now();
    for (const r of page.results) {
      const stamp = recordStamp(ctx, r);
      if (stamp !== null && stamp < since) continue; // search returns a few records before `since`
      if (stamp !== null && stampProblem(stamp, now, '') !== null) {
        // Dead-lettered by addRecord; its stamp never becomes the checkpoint.
        future ||= stamp > now;
        addRecord(ctx, unit, r, stamp);
        continue;
      }
      if (stamp !== null && (last === null || stamp > last)) last = stamp;
      if (stamp === since && seen.has(r.id)) continue;
      addRecord(ctx, unit, r, stamp);
    }
    const progressed = last !== null && last > since;
    if (progressed) {
      since = last!;
      seen = new Set();
    }
    for (const r of page.results) if (recordStamp(ctx, r) === since) seen.add(r.id);
    // Nothing after a future stamp can be read yet: stop here, at the last readable stamp.
    if (page.paging?.next === undefined || future) {
      await commit(ctx, ctx.type, position(since), unit);
      return;
    }
    if (!progressed) {
      // A full page without progress: more records share `since` than a page holds. Drain that
      // millisecond by hs_object_id, then go on after it.
      await drainTies(ctx, unit, since, null, floor, seen);
      since += 1;
      seen = new Set();
      continue;
    }
    if (unit.rows >= ctx.config.stageBatchRows) await commit(ctx, ctx.type, position(since), unit);
  }
}

/**
 * Reads every record stamped exactly `at` in hs_object_id order (keyset: id GT the last id read,
 * so the cap and records leaving the millisecond while paging cannot make it skip one), except
 * those in `skip` (already read). Commits with a tie position every stageBatchRows.
 */
async function drainTies(
  ctx: ExtractContext,
  unit: PendingUnit,
  at: number,
  startAfterId: string | null,
  floor: number,
  skip: ReadonlySet<string>,
): Promise<void> {
  let afterId = startAfterId;
  for (;;) {
    const page = await search(ctx, at, 0, afterId);
    await withAssociations(ctx, page.results);
    for (const r of page.results) {
      afterId = r.id;
      if (skip.has(r.id)) continue;
      addRecord(ctx, unit, r, recordStamp(ctx, r));
    }
    if (page.paging?.next === undefined || page.results.length === 0) return;
    if (unit.rows >= ctx.config.stageBatchRows)
      await commit(
        ctx,
        ctx.type,
        { phase: 'incremental', since: Math.max(floor, at), tie: { at, afterId } },
        unit,
      );
  }
}

/**
 * Reads the associations the config maps to reference fields for a page of records (one v4 batch
 * read per associated object type) and sets them on the records (hubspot-associations.ts).
 */
export function withAssociations(ctx: ExtractContext, records: readonly HubspotRecord[]): Promise<void> {
  return attachAssociations(ctx.type, ctx.mapping.associations, records, (to, inputs) =>
    ctx.client.json<AssociationPage>('POST', `crm/v4/associations/${ctx.type}/${to}/batch/read`, {
      schema: associationPage(inputs.map((i) => i.id)),
      about: `${about(ctx)} → ${to} associations`,
      body: { inputs },
    }),
  );
}

function search(
  ctx: ExtractContext,
  since: number,
  after: number,
  tieAfterId?: string | null,
): Promise<HubspotSearchPage> {
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
  return ctx.client.json('POST', `${base(ctx.type)}/search`, {
    schema: hubspotSearchPage,
    about: about(ctx),
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
    const page = await archivedListPage(ctx, after, `${about(ctx)}, archived`);
    for (const r of page.results) {
      ctx.out.received();
      const at = parseStampMs(r.archivedAt) ?? parseStampMs(r.updatedAt);
      const problem = stampProblem(at, ctx.now(), 'archivedAt', r.archivedAt ?? r.updatedAt);
      if (at === null || problem !== null) {
        deadLetter(ctx, unit, r, `archived record: ${problem}`);
        continue;
      }
      if (at < start.since) continue;
      addChange(unit, ctx.mapping.entity, archivedTombstone(r, at));
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

/** One page of the type's archived list: ids and archive stamps only (the archived stream, re-reads). */
export function archivedListPage(
  ctx: ExtractContext,
  after: string | null,
  what: string,
): Promise<HubspotListPage> {
  return ctx.client.json('GET', base(ctx.type), {
    query: {
      limit: ctx.config.listPageSize,
      after: after ?? undefined,
      archived: 'true',
      properties: 'hs_object_id',
    },
    schema: hubspotListPage,
    about: what,
  });
}

/** The tombstone of an archived record: version and stamp = its archive time. */
export function archivedTombstone(r: HubspotRecord, at: number): Change {
  return {
    sourceId: r.id,
    version: msToVersion(at),
    op: 'delete',
    raw: r,
    sourceUpdatedAt: new Date(at).toISOString(),
  };
}

function recordStamp(ctx: ExtractContext, r: HubspotRecord): number | null {
  return hubspotRecordStamp(ctx.mapping, r);
}

/** A record's modification stamp (epoch ms): its stamp property, else `updatedAt`. */
export function hubspotRecordStamp(m: HubspotObjectMapping, r: HubspotRecord): number | null {
  return parseStampMs(r.properties?.[m.modifiedProperty]) ?? parseStampMs(r.updatedAt);
}

export function addRecord(
  ctx: ExtractContext,
  unit: PendingUnit,
  r: HubspotRecord,
  known: number | null,
): void {
  ctx.out.received();
  if (!r || typeof r.id !== 'string' || !r.id || typeof r.properties !== 'object' || !r.properties) {
    deadLetter(ctx, unit, r, 'record without id or properties');
    return;
  }
  const stamp = known ?? recordStamp(ctx, r);
  const raw = r.properties[ctx.mapping.modifiedProperty] ?? r.updatedAt;
  const problem = stampProblem(stamp, ctx.now(), ctx.mapping.modifiedProperty, raw);
  if (stamp === null || problem !== null) {
    deadLetter(ctx, unit, r, `record ${r.id}: ${problem}`);
    return;
  }
  let change: Change;
  try {
    change = hubspotRecordChange(ctx.mapping, ctx.config.role, r, stamp);
  } catch (err) {
    deadLetter(ctx, unit, r, (err as Error).message);
    return;
  }
  addChange(unit, ctx.mapping.entity, change);
}

/**
 * One record (with id and properties) as a staged upsert: the mapping over its properties, its id
 * as the system's link field, `stamp` (epoch ms) as the version. Throws for a record the mapping
 * cannot take. The extraction and the re-mapping of stored records (remap.ts) share it.
 */
export function hubspotRecordChange(
  m: HubspotObjectMapping,
  role: 'crm' | 'erp',
  r: HubspotRecord,
  stamp: number,
): Change {
  const fields = mapRecord(m.entity, m.mapping, (p) => ownValue(r.properties, p));
  fields[role === 'crm' ? 'crm_ref' : 'erp_ref'] = r.id;
  for (const [field, to] of Object.entries(m.associations ?? {})) {
    // Set by the extraction from the associations read with the record's page; a stored record
    // read before the field was mapped to an association has none (remap: re-read it).
    if (!r.associatedRefs || !Object.hasOwn(r.associatedRefs, field))
      throw new Error(
        `record ${r.id} was read without its ${to} associations (${field}): re-read it with \`trueup backfill --ids\``,
      );
    fields[field] = r.associatedRefs[field] ?? null;
  }
  return {
    sourceId: r.id,
    version: msToVersion(stamp),
    op: 'upsert',
    fields,
    raw: r,
    sourceUpdatedAt: new Date(stamp).toISOString(),
    ...(m.mappingVersion ? { mappingVersion: m.mappingVersion } : {}),
  };
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
  return ctx.out.commit(position, unit, `hubspot ${stream}`);
}

// Reference fields read from HubSpot associations (config `associations`): a deal or an invoice
// names its company only through an association, never a property. For every page of records the
// extraction reads (list or search) and every re-read, the page's ids go to
// POST /crm/v4/associations/{from}/{to}/batch/read (at most 1,000 inputs; a record's further
// associations are paged by `{id, after}`), and each record gets its resolved references in
// `associatedRefs` before it is mapped. One mechanism for full and incremental loads: the v3 list
// could return `associations` itself, but search (every incremental pass) cannot. WIRE.md,
// "Associations".
//
// The answer must account for every id asked: a result, or HubSpot's 207 error for a record
// without associations (subCategory crm.associations.NO_ASSOCIATIONS_FOUND, naming it in
// `context.fromObjectId`) — that record's reference is null. Anything else (no `results`, an id
// left out, another error naming it) is a transient error: re-read, then the stream fails; a
// reference is never set to null from an answer that does not say so.
import { z } from 'zod';
import type { HubspotObjectType } from './config.js';
import type { HubspotRecord } from './hubspot-pages.js';

/** Inputs per batch read (HubSpot: "limited to 1,000 inputs per request body"). */
export const ASSOCIATION_BATCH_LIMIT = 1000;

/**
 * HubSpot-defined association type ids that flag the primary record of a pair (v4 guide,
 * "Association type ID values"): deal → primary company 5, contact → primary company 1. Other
 * pairs (invoice → company 179, invoice → deal 175) have no primary type.
 */
export const PRIMARY_TYPE_IDS: Readonly<Partial<Record<string, number>>> = {
  'deals→companies': 5,
  'contacts→companies': 1,
};

export const NO_ASSOCIATIONS = 'crm.associations.NO_ASSOCIATIONS_FOUND';

interface AssociationType {
  category?: string;
  typeId?: number;
  label?: string | null;
}
interface AssociatedObject {
  toObjectId: string | number;
  associationTypes?: AssociationType[];
}
interface AssociationResult {
  from: { id: string };
  to: AssociatedObject[];
  paging?: { next?: { after: string } };
}
export interface AssociationPage {
  results: AssociationResult[];
  errors?: {
    subCategory?: unknown;
    category?: string;
    message?: string;
    context?: Record<string, unknown>;
  }[];
}

const result = z
  .object({
    from: z.object({ id: z.union([z.string(), z.number()]).transform(String) }),
    to: z.array(
      z
        .object({
          toObjectId: z.union([z.string(), z.number()]),
          associationTypes: z.array(z.object({ typeId: z.number().optional() }).loose()).optional(),
        })
        .loose(),
    ),
    paging: z.object({ next: z.object({ after: z.string().min(1) }).optional() }).optional(),
  })
  .loose();

/**
 * The batch read's answer for the ids `asked`: `results` required, and every id either a result or
 * named by a NO_ASSOCIATIONS_FOUND error; an error of another kind naming an asked id fails it.
 */
export function associationPage(asked: readonly string[]) {
  return z
    .object({
      results: z.array(result),
      errors: z
        .array(
          z
            .object({ subCategory: z.unknown(), context: z.record(z.string(), z.unknown()).optional() })
            .loose(),
        )
        .optional(),
    })
    .superRefine((p, ctx) => {
      const seen = new Set(p.results.map((r) => r.from.id));
      for (const e of p.errors ?? []) {
        const ids = e.context?.fromObjectId;
        if (!Array.isArray(ids)) continue;
        const named = ids.map(String).filter((id) => asked.includes(id));
        if (e.subCategory === NO_ASSOCIATIONS) for (const id of named) seen.add(id);
        else if (named.length)
          ctx.addIssue({
            code: 'custom',
            path: ['errors'],
            message: `an error that is not "no associations" names ${named.slice(0, 3).join(', ')}: ${String(
              (e as { message?: unknown }).message ?? e.subCategory ?? 'no message',
            )}`,
          });
      }
      const lost = asked.filter((id) => !seen.has(id));
      if (lost.length)
        ctx.addIssue({
          code: 'custom',
          path: ['results'],
          message: `${lost.length} id(s) asked for are neither a result nor a "no associations" error (${lost
            .slice(0, 3)
            .join(', ')}${lost.length > 3 ? ', …' : ''})`,
        });
    }) as unknown as z.ZodType<AssociationPage>;
}

/**
 * The one associated record a reference takes: the one flagged primary by the pair's primary type
 * id, else the lowest id (numeric order); none → null.
 */
export function pickAssociated(
  from: HubspotObjectType,
  to: HubspotObjectType,
  objects: readonly AssociatedObject[],
): string | null {
  if (!objects.length) return null;
  const primaryType = PRIMARY_TYPE_IDS[`${from}→${to}`];
  if (primaryType !== undefined) {
    const primary = objects.filter((o) => o.associationTypes?.some((t) => t.typeId === primaryType));
    if (primary.length) return lowest(primary);
  }
  return lowest(objects);
}

function lowest(objects: readonly AssociatedObject[]): string {
  const ids = objects.map((o) => String(o.toObjectId));
  return ids.reduce((a, b) => (cmpNumericId(b, a) < 0 ? b : a));
}

function cmpNumericId(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What reading associations needs: the API call (the extractor's client and error context). */
export type AssociationCall = (
  to: HubspotObjectType,
  inputs: { id: string; after?: string }[],
) => Promise<AssociationPage>;

/**
 * Sets `associatedRefs` on each record of `records` (a page): for each configured field, the
 * picked associated id or null. Records without an id are left alone (dead-lettered by the mapper).
 */
export async function attachAssociations(
  from: HubspotObjectType,
  fields: Readonly<Record<string, HubspotObjectType>> | undefined,
  records: readonly HubspotRecord[],
  call: AssociationCall,
): Promise<void> {
  if (!fields || !Object.keys(fields).length || !records.length) return;
  const ids = [...new Set(records.filter((r) => r && typeof r.id === 'string' && r.id).map((r) => r.id))];
  const byTarget = new Map<HubspotObjectType, Map<string, AssociatedObject[]>>();
  for (const to of new Set(Object.values(fields))) byTarget.set(to, await readAll(to, ids, call));
  for (const r of records) {
    if (!r || typeof r.id !== 'string' || !r.id) continue;
    const refs: Record<string, string | null> = {};
    for (const [field, to] of Object.entries(fields))
      refs[field] = pickAssociated(from, to, byTarget.get(to)?.get(r.id) ?? []);
    r.associatedRefs = refs;
  }
}

/** Every associated object of `ids` with `to`, following each record's own `paging.next.after`. */
async function readAll(
  to: HubspotObjectType,
  ids: readonly string[],
  call: AssociationCall,
): Promise<Map<string, AssociatedObject[]>> {
  const out = new Map<string, AssociatedObject[]>();
  let pending: { id: string; after?: string }[] = ids.map((id) => ({ id }));
  while (pending.length) {
    const next: { id: string; after: string }[] = [];
    for (let i = 0; i < pending.length; i += ASSOCIATION_BATCH_LIMIT) {
      const page = await call(to, pending.slice(i, i + ASSOCIATION_BATCH_LIMIT));
      for (const r of page.results) {
        const list = out.get(r.from.id) ?? [];
        list.push(...r.to);
        out.set(r.from.id, list);
        if (r.paging?.next?.after) next.push({ id: r.from.id, after: r.paging.next.after });
      }
    }
    pending = next;
  }
  return out;
}

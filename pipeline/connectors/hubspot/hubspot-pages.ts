// The shapes of the HubSpot pages the extraction pages through (CRM v3 list and search), checked
// by the ApiClient before a page is read (RequestOptions.schema): a 200 without `results`, with a
// `paging.next` lacking its `after`, or a search page whose `total` says more records match than
// it returned while it has no `paging.next`, is a transient error (re-read, then the stream
// fails), never taken for the last page — which would move the checkpoint past unread records.
// The records themselves are not checked here: a bad record is dead-lettered on its own.
// A list page that has `results` and no `paging` is the last page: HubSpot's OpenAPI spec makes
// `paging` optional and `results` required on these collection responses (WIRE.md, "Paging").
// The write-back's batch read (hubspotBatchReadPage) is checked the same way.
import { z } from 'zod';

/** A record as the CRM v3 API renders it. */
export interface HubspotRecord {
  id: string;
  properties: Record<string, string | null>;
  createdAt?: string;
  updatedAt?: string;
  archived?: boolean;
  archivedAt?: string;
  /**
   * trueup's own addition, kept with the raw record: reference field → the associated record's id
   * (or null), read from the v4 associations (hubspot-associations.ts). Not part of HubSpot's answer.
   */
  associatedRefs?: Record<string, string | null>;
}

const record = z.custom<HubspotRecord>(() => true);

const paging = z
  .object({
    next: z.object({ after: z.string().min(1), link: z.string().optional() }).optional(),
  })
  .optional();

/** GET /crm/v3/objects/{type}: no `paging` on the last page (WIRE.md). */
export const hubspotListPage = z.object({ results: z.array(record), paging });
export type HubspotListPage = z.infer<typeof hubspotListPage>;

/** POST /crm/v3/objects/{type}/search, asked from its first result (after 0), as the extraction does. */
export const hubspotSearchPage = z
  .object({ total: z.number().int().min(0), results: z.array(record), paging })
  .refine((p) => p.paging?.next !== undefined || p.results.length >= p.total, {
    message: 'total says more records match than the page holds, but it has no paging.next',
    path: ['paging'],
  });
export type HubspotSearchPage = z.infer<typeof hubspotSearchPage>;

const batchError = z
  .object({ category: z.string().optional(), context: z.record(z.string(), z.unknown()).optional() })
  .loose();

/**
 * POST /crm/v3/objects/{type}/batch/read by `idProperty` for the ids `asked` (the write-back's read
 * of the records as they are now): `results` must be there, and every id asked must come back,
 * either as a result or named in an error's `context.ids` (HubSpot answers an id without a record
 * with a 207 OBJECT_NOT_FOUND naming it). An answer that accounts for neither is transient: read
 * as it is, the record would count as absent, and the write-back would take it for one to create.
 */
export function hubspotBatchReadPage(idProperty: string, asked: readonly string[]) {
  return z
    .object({ results: z.array(record), errors: z.array(batchError).optional() })
    .superRefine((p, ctx) => {
      const seen = new Set<string>();
      for (const r of p.results) {
        const key = idProperty === 'hs_object_id' ? r?.id : r?.properties?.[idProperty];
        if (typeof key === 'string') seen.add(key);
      }
      for (const e of p.errors ?? []) {
        const ids = e.context?.ids;
        if (Array.isArray(ids)) for (const id of ids) seen.add(String(id));
      }
      const lost = asked.filter((id) => !seen.has(id));
      if (lost.length)
        ctx.addIssue({
          code: 'custom',
          path: ['results'],
          message: `${lost.length} id(s) asked for are neither a result nor a not-found error (${lost
            .slice(0, 3)
            .join(', ')}${lost.length > 3 ? ', …' : ''})`,
        });
    });
}

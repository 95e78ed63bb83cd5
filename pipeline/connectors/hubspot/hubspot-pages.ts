// The shapes of the HubSpot pages the extraction pages through (CRM v3 list and search), checked
// by the ApiClient before a page is read (RequestOptions.schema): a 200 without `results`, with a
// `paging.next` lacking its `after`, or a search page whose `total` says more records match than
// it returned while it has no `paging.next`, is a transient error (re-read, then the stream
// fails), never taken for the last page — which would move the checkpoint past unread records.
// The records themselves are not checked here: a bad record is dead-lettered on its own.
import { z } from 'zod';

/** A record as the CRM v3 API renders it. */
export interface HubspotRecord {
  id: string;
  properties: Record<string, string | null>;
  createdAt?: string;
  updatedAt?: string;
  archived?: boolean;
  archivedAt?: string;
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

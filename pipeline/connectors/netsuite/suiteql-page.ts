// The shape of a SuiteQL page (POST /services/rest/query/v1/suiteql), checked by the ApiClient
// before a page is read (RequestOptions.schema): a 200 without `items` or `hasMore` (an HTML
// error page, an empty or truncated body, some other JSON) is a transient error — re-read, then
// the stream fails — never taken for the last page, which would move the checkpoint past unread
// rows. Row values are not checked here: a row that does not map is dead-lettered on its own.
import { z } from 'zod';

export type SuiteqlRow = Record<string, string | number | boolean | null>;

const row = z.custom<SuiteqlRow>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), {
  message: 'expected an object (one row)',
});

export const suiteqlPage = z.object({
  items: z.array(row),
  hasMore: z.boolean(),
  count: z.number().int().min(0).optional(),
  offset: z.number().int().min(0).optional(),
  totalResults: z.number().int().min(0).optional(),
});
export type SuiteqlPage = z.infer<typeof suiteqlPage>;

// Config of a `csv` system (file drops). Issue #4 fleshes this out.
import { z } from 'zod';

export const csvSystemConfig = z.looseObject({
  kind: z.literal('csv'),
  role: z.enum(['crm', 'erp']),
  dropDir: z.string().min(1),
});

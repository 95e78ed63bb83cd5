// Config of a `netsuite` system (SuiteQL REST). Issue #4 fleshes this out.
import { z } from 'zod';
import { baseUrl, clientLimits, secretRef } from '../connector-config.js';

export const netsuiteSystemConfig = z.looseObject({
  kind: z.literal('netsuite'),
  role: z.enum(['crm', 'erp']),
  baseUrl: baseUrl(),
  accessToken: secretRef().optional(),
  limits: clientLimits,
});

// Config of a `salesforce` system (Bulk API 2.0). Issue #4 fleshes this out.
import { z } from 'zod';
import { baseUrl, clientLimits, secretRef } from '../connector-config.js';

export const salesforceSystemConfig = z.looseObject({
  kind: z.literal('salesforce'),
  role: z.enum(['crm', 'erp']),
  baseUrl: baseUrl(),
  apiVersion: z
    .string()
    .regex(/^\d+\.\d$/, 'expected an API version such as "60.0"')
    .default('60.0'),
  accessToken: secretRef(),
  limits: clientLimits,
});

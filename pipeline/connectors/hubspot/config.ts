// Config of a `hubspot` system (CRM v3). Issue #4 fleshes this out.
import { z } from 'zod';
import { baseUrl, clientLimits, secretRef } from '../connector-config.js';

export const hubspotSystemConfig = z.looseObject({
  kind: z.literal('hubspot'),
  role: z.enum(['crm', 'erp']),
  baseUrl: baseUrl().default('https://api.hubapi.com'),
  accessToken: secretRef(),
  limits: clientLimits,
});

// HubSpot's answers as the sandbox gives them (hubspot-sandbox.ts): its error bodies, the
// rate-limit and auth faults with HubSpot's own bodies and headers, and how search orders and
// compares property values (ids and stamps numerically, numbers as numbers, else as text).
import { randomUUID } from 'node:crypto';
import type { SandboxResponse } from '../http/sandbox-server.js';

/** Properties holding a timestamp (epoch ms in filters, ISO on the wire). */
export const STAMP_PROPS = new Set([
  'hs_lastmodifieddate',
  'lastmodifieddate',
  'hs_createdate',
  'createdate',
]);

export function cmpId(a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}

export function compareValues(prop: string, a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (prop === 'hs_object_id' || STAMP_PROPS.has(prop)) return cmpId(a, b);
  const na = Number(a);
  const nb = Number(b);
  if (a !== '' && b !== '' && !Number.isNaN(na) && !Number.isNaN(nb)) return na - nb;
  return a < b ? -1 : 1;
}

export function hubspotError(status: number, message: string, category: string): SandboxResponse {
  return {
    status,
    body: {
      status: 'error',
      message,
      correlationId: randomUUID(),
      category,
      errors: [{ message, in: 'body' }],
    },
  };
}

/** Search's own limit (a few requests per second per token), answered apart from the 10-second one. */
export const SECONDLY_LIMITED = (): SandboxResponse => ({
  status: 429,
  body: {
    status: 'error',
    message: 'You have reached your secondly limit.',
    errorType: 'RATE_LIMIT',
    correlationId: randomUUID(),
    policyName: 'SECONDLY',
  },
});

export const VENDOR_FAULTS = {
  rateLimited: (): SandboxResponse => ({
    status: 429,
    headers: {
      'X-HubSpot-RateLimit-Max': '190',
      'X-HubSpot-RateLimit-Remaining': '0',
      'X-HubSpot-RateLimit-Interval-Milliseconds': '10000',
    },
    body: {
      status: 'error',
      message: 'You have reached your ten_secondly_rolling limit.',
      errorType: 'RATE_LIMIT',
      correlationId: randomUUID(),
      policyName: 'TEN_SECONDLY_ROLLING',
    },
  }),
  dailyLimited: (): SandboxResponse => ({
    status: 429,
    headers: { 'X-HubSpot-RateLimit-Daily': '250000', 'X-HubSpot-RateLimit-Daily-Remaining': '0' },
    body: {
      status: 'error',
      message: 'You have reached your daily limit.',
      errorType: 'RATE_LIMIT',
      correlationId: randomUUID(),
      policyName: 'DAILY',
    },
  }),
  serverError: () => hubspotError(502, 'Bad Gateway: an internal error occurred', 'INTERNAL_ERROR'),
  unauthorized: () =>
    hubspotError(
      401,
      'Authentication credentials not found. This API supports OAuth 2.0 authentication.',
      'INVALID_AUTHENTICATION',
    ),
  expired: () =>
    hubspotError(401, 'The OAuth token used to make this call expired.', 'EXPIRED_AUTHENTICATION'),
};

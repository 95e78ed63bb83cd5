// How HubSpot authenticates and how its error responses are read (APIS.md): bearer token;
// 429 RATE_LIMIT with policyName TEN_SECONDLY_ROLLING (or SECONDLY, search's own limit) is
// transient and, having no documented Retry-After, is retried with backoff; policyName DAILY
// stops the tenant until the daily window resets; 401 is an auth failure (the shared ApiClient
// refreshes the token through `refreshAuth` and resends outside the transient retry budget); 5xx is transient;
// other 4xx are terminal and carry HubSpot's category as the error code.
// Search requests are limited apart from the rest (about 4 per second per token, WIRE.md
// "Limits"): they go through their own lane at SEARCH_REQUESTS_PER_SECOND, below that limit so
// that network jitter cannot put five into one second (`limits.lanes.search` overrides it).
import type { Classification, RequestLane, VendorPolicy } from '../http/api-client.js';
import { retryAfterMs } from '../http/api-client.js';

interface HubspotErrorBody {
  status?: string;
  message?: string;
  category?: string;
  errorType?: string;
  policyName?: string;
  correlationId?: string;
}

export function parseHubspotError(body: string): HubspotErrorBody {
  try {
    const v = JSON.parse(body) as unknown;
    return v && typeof v === 'object' ? (v as HubspotErrorBody) : {};
  } catch {
    return {};
  }
}

export const SEARCH_REQUESTS_PER_SECOND = 3;
const SEARCH_LANE: RequestLane = { name: 'search', requestsPerSecond: SEARCH_REQUESTS_PER_SECOND };

/** The next midnight UTC: HubSpot resets daily limits at midnight in the account's zone (unknown here). */
function nextMidnightUtc(now: number): Date {
  const d = new Date(now);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1));
}

export function hubspotPolicy(opts: {
  token: () => string;
  refreshAuth?: () => Promise<void>;
  now?: () => number;
}): VendorPolicy {
  const now = opts.now ?? Date.now;
  return {
    vendor: 'hubspot',
    authHeaders: () => ({ authorization: `Bearer ${opts.token()}` }),
    laneOf: ({ method, path }) => (method === 'POST' && /\/search$/.test(path) ? SEARCH_LANE : undefined),
    ...(opts.refreshAuth ? { refreshAuth: opts.refreshAuth } : {}),
    classify(status, headers, text): Classification {
      const body = parseHubspotError(text);
      const message = body.message ?? (text.slice(0, 200) || `HTTP ${status}`);
      if (status === 429) {
        if (body.policyName === 'DAILY')
          return { kind: 'daily_limit', reason: message, resumeAt: nextMidnightUtc(now()) };
        const wait = retryAfterMs(headers);
        return {
          kind: 'transient',
          reason: `${body.policyName ?? 'rate limit'}: ${message}`,
          ...(wait !== undefined ? { retryAfterMs: wait } : {}),
        };
      }
      if (status === 401) return { kind: 'auth', reason: message };
      if (status >= 500 || status === 408) return { kind: 'transient', reason: message };
      return { kind: 'terminal', reason: message, code: body.category ?? `HTTP_${status}` };
    },
  };
}

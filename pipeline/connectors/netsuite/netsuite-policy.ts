// How NetSuite authenticates (bearer token or OAuth 1.0a HMAC-SHA256, pluggable) and how its
// REST errors are read: `{"type","title","status","o:errorDetails":[{"detail","o:errorCode"}]}`.
// NetSuite has no daily REST request quota, only a per-account concurrency limit (WIRE.md
// "Limits"): every 429 is transient and retried with backoff (no Retry-After is documented), never
// a pause of the tenant; 401 INVALID_LOGIN asks for a token refresh; 5xx is transient.
import type { Classification, VendorPolicy } from '../http/api-client.js';
import { retryAfterMs } from '../http/api-client.js';
import { type OAuth1Credentials, oauth1Header } from './oauth1-signer.js';

export interface NetsuiteErrorBody {
  type?: string;
  title?: string;
  status?: number;
  'o:errorDetails'?: { detail?: string; 'o:errorCode'?: string; 'o:errorPath'?: string }[];
}

export function parseNetsuiteError(text: string): { message: string; code: string | null } {
  try {
    const b = JSON.parse(text) as NetsuiteErrorBody;
    const d = b['o:errorDetails']?.[0];
    return { message: d?.detail ?? b.title ?? text.slice(0, 200), code: d?.['o:errorCode'] ?? null };
  } catch {
    return { message: text.slice(0, 200), code: null };
  }
}

export type NetsuiteSigner = (req: { method: string; url: URL }) => Record<string, string>;

export const bearerSigner =
  (token: () => string): NetsuiteSigner =>
  () => ({ authorization: `Bearer ${token()}` });

export const oauth1Signer =
  (creds: OAuth1Credentials): NetsuiteSigner =>
  (req) => ({ authorization: oauth1Header(creds, req) });

export function netsuitePolicy(opts: {
  signer: NetsuiteSigner;
  refreshAuth?: () => Promise<void>;
}): VendorPolicy {
  return {
    vendor: 'netsuite',
    authHeaders: (req) => opts.signer(req),
    ...(opts.refreshAuth ? { refreshAuth: opts.refreshAuth } : {}),
    classify(status, headers, text): Classification {
      const { message, code } = parseNetsuiteError(text);
      const reason = code ? `${code}: ${message}` : message || `HTTP ${status}`;
      if (status === 429 || status >= 500 || status === 408) {
        const wait = retryAfterMs(headers);
        return {
          kind: 'transient',
          reason,
          ...(status === 429 ? { throttled: true } : {}),
          ...(wait !== undefined ? { retryAfterMs: wait } : {}),
        };
      }
      if (status === 401) return { kind: 'auth', reason };
      return { kind: 'terminal', reason, code: code ?? `HTTP_${status}` };
    },
  };
}

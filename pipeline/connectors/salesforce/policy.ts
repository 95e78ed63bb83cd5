// How the shared ApiClient talks to Salesforce: bearer auth, the array error bodies
// ([{message, errorCode}]), the `Sforce-Limit-Info: api-usage=N/M` header kept for status and
// logs, and its limits (WIRE.md "Limits"): Salesforce does not use 429; both the 24-hour API
// allocation and the concurrent long-running request limit answer 403 REQUEST_LIMIT_EXCEEDED, told
// apart by the message — "TotalRequests Limit exceeded" pauses the tenant until the window moves,
// a concurrency message ("ConcurrentPerOrgLongTxn Limit exceeded", "ConcurrentRequests …") is
// transient and retried with backoff. An unknown REQUEST_LIMIT_EXCEEDED message counts as the
// daily limit: pausing is the safe reading. 5xx and dropped connections are transient.
import { type Classification, retryAfterMs, type VendorPolicy } from '../http/api-client.js';

export interface SalesforceErrorBody {
  message?: string;
  errorCode?: string;
}

export function parseSalesforceErrors(body: string): SalesforceErrorBody[] {
  try {
    const parsed = JSON.parse(body) as unknown;
    if (Array.isArray(parsed)) return parsed as SalesforceErrorBody[];
    if (parsed && typeof parsed === 'object') return [parsed as SalesforceErrorBody];
  } catch {
    // Not JSON (an HTML error page from a proxy): fall through.
  }
  return [];
}

export class SalesforcePolicy implements VendorPolicy {
  readonly vendor = 'salesforce';
  /** Last `Sforce-Limit-Info` seen: api-usage used / max. */
  apiUsage: { used: number; max: number } | null = null;

  constructor(
    private token: string,
    /** Obtains a fresh access token (OAuth refresh flow); absent → 401 is terminal. */
    refresh?: () => Promise<string>,
  ) {
    if (refresh)
      this.refreshAuth = async () => {
        this.token = await refresh();
      };
  }

  refreshAuth?: () => Promise<void>;

  authHeaders(): Record<string, string> {
    return { authorization: `Bearer ${this.token}` };
  }

  /** Server clock from the last `Date` header (whole seconds) and when it arrived here. */
  private serverDate: { serverMs: number; receivedAt: number } | null = null;

  observe(headers: Headers): void {
    const m = /api-usage=(\d+)\/(\d+)/.exec(headers.get('sforce-limit-info') ?? '');
    if (m) this.apiUsage = { used: Number(m[1]), max: Number(m[2]) };
    const date = Date.parse(headers.get('date') ?? '');
    if (!Number.isNaN(date)) this.serverDate = { serverMs: date, receivedAt: performance.now() };
  }

  /**
   * "Now" for window ends, safe against a local clock running ahead of Salesforce's: a window
   * ending in Salesforce's future would skip records written later with an earlier stamp. When
   * the local clock is more than the Date header's 1 s granularity ahead, the server's (lower
   * bound) time is used instead.
   */
  safeNow(localNow: number): number {
    if (!this.serverDate) return localNow;
    // Elapsed time on the monotonic clock: the wall clock is the one under suspicion.
    const lower = this.serverDate.serverMs + (performance.now() - this.serverDate.receivedAt);
    return localNow > lower + 1000 ? lower : localNow;
  }

  classify(status: number, headers: Headers, body: string): Classification {
    const errors = parseSalesforceErrors(body);
    const code = errors[0]?.errorCode ?? '';
    const reason = errors.length
      ? errors.map((e) => `${e.errorCode ?? 'ERROR'}: ${e.message ?? ''}`).join('; ')
      : body.slice(0, 200) || `HTTP ${status}`;
    if (status === 401) return { kind: 'auth', reason };
    if (code === 'REQUEST_LIMIT_EXCEEDED' && status === 403) {
      if (errors.some((e) => /concurrent/i.test(e.message ?? '')))
        return { kind: 'transient', reason, throttled: true };
      return { kind: 'daily_limit', reason };
    }
    if (status === 429 || status >= 500 || code === 'SERVER_UNAVAILABLE') {
      const wait = retryAfterMs(headers);
      return wait === undefined
        ? { kind: 'transient', reason }
        : { kind: 'transient', reason, retryAfterMs: wait };
    }
    return { kind: 'terminal', reason, code: code || `HTTP_${status}` };
  }
}

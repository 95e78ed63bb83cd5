// The HTTP client every API connector (salesforce, hubspot, netsuite) shares: one
// implementation of retries with capped exponential backoff and jitter (p-retry), Retry-After,
// a per-tenant rate limiter and concurrency cap (Bottleneck), a 401 → refresh-token → one retry
// hook, and vendor policies that classify responses. A daily-limit response stops the tenant's
// extraction with DailyLimitError (never retried until the window resets).
import Bottleneck from 'bottleneck';
import pRetry, { AbortError } from 'p-retry';
import type { Logger } from '../../log/logger.js';

export type Classification =
  | { kind: 'ok' }
  | { kind: 'transient'; reason: string; retryAfterMs?: number }
  | { kind: 'daily_limit'; reason: string; resumeAt?: Date }
  | { kind: 'auth'; reason: string }
  | { kind: 'terminal'; reason: string; code?: string };

/** What differs between vendors: how to authenticate, and how to read their error responses. */
export interface VendorPolicy {
  readonly vendor: string;
  /** Headers that authenticate a request (Authorization: Bearer …, OAuth 1.0a signature …). */
  authHeaders(req: { method: string; url: URL }): Promise<Record<string, string>> | Record<string, string>;
  /** Classifies a non-2xx response. `body` is the response text (already read). */
  classify(status: number, headers: Headers, body: string): Classification;
  /** Called after a 401; should obtain a fresh token. Without it, 401 is terminal. */
  refreshAuth?(): Promise<void>;
  /** Sees every response (limit headers such as Sforce-Limit-Info). */
  observe?(headers: Headers): void;
}

export interface ClientLimits {
  requestsPerSecond: number;
  concurrency: number;
  maxRetries: number;
  timeoutMs: number;
  /** Backoff bounds; tests shorten them. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    message: string,
    readonly kind: 'terminal' | 'transient',
    readonly status: number | null,
    readonly code: string | null,
    readonly detail: { vendor: string; tenant: string; system: string; method: string; path: string },
  ) {
    super(message);
  }
}

/** The vendor's daily (or otherwise long) limit is exhausted: stop this tenant's extraction. */
export class DailyLimitError extends Error {
  override name = 'DailyLimitError';
  readonly kind = 'paused' as const;
  constructor(
    message: string,
    readonly resumeAt: Date | null,
    readonly detail: { vendor: string; tenant: string; system: string },
  ) {
    super(message);
  }
}

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  /** Expected content type of the response; default JSON. */
  accept?: string;
}

export interface ApiClientOptions {
  baseUrl: string;
  policy: VendorPolicy;
  limits: ClientLimits;
  tenant: string;
  system: string;
  logger: Logger;
}

export interface ClientStats {
  requests: number;
  retries: number;
  throttled: number;
}

export class ApiClient {
  readonly stats: ClientStats = { requests: 0, retries: 0, throttled: 0 };
  private readonly limiter: Bottleneck;
  private readonly base: URL;

  constructor(private readonly opts: ApiClientOptions) {
    this.base = new URL(opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`);
    this.limiter = new Bottleneck({
      maxConcurrent: opts.limits.concurrency,
      minTime: Math.ceil(1000 / opts.limits.requestsPerSecond),
    });
  }

  url(path: string, query?: RequestOptions['query']): URL {
    const url = new URL(path.replace(/^\//, ''), this.base);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  /**
   * Sends a request, retrying transient failures, and returns the successful Response with its
   * body unread (callers stream large bodies). Throws ApiError (terminal, or transient after the
   * retry cap) or DailyLimitError.
   */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const { policy, limits, tenant, system, logger } = this.opts;
    const detail = { vendor: policy.vendor, tenant, system, method, path };
    let refreshed = false;
    return pRetry(
      async () => {
        const url = this.url(path, opts.query);
        const headers: Record<string, string> = {
          accept: opts.accept ?? 'application/json',
          ...(await policy.authHeaders({ method, url })),
          ...opts.headers,
        };
        let body: string | undefined;
        if (opts.body !== undefined) {
          body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
          headers['content-type'] ??= 'application/json';
        }
        this.stats.requests++;
        let res: Response;
        try {
          res = await this.limiter.schedule(() =>
            fetch(url, {
              method,
              headers,
              body: body ?? null,
              signal: AbortSignal.timeout(limits.timeoutMs),
            }),
          );
        } catch (err) {
          // Connection reset, refused, timeout: all transient.
          throw new ApiError(
            `${policy.vendor} ${method} ${path}: ${(err as Error).message}`,
            'transient',
            null,
            'NETWORK',
            detail,
          );
        }
        policy.observe?.(res.headers);
        if (res.ok) return res;
        const text = await res.text().catch(() => '');
        const c = policy.classify(res.status, res.headers, text);
        const where = `${policy.vendor} ${method} ${path} → ${res.status}`;
        switch (c.kind) {
          case 'ok':
            return new Response(text, { status: res.status, headers: res.headers });
          case 'daily_limit':
            throw new AbortError(
              new DailyLimitError(`${where}: ${c.reason}`, c.resumeAt ?? null, {
                vendor: policy.vendor,
                tenant,
                system,
              }),
            );
          case 'auth':
            if (policy.refreshAuth && !refreshed) {
              refreshed = true;
              await policy.refreshAuth();
              throw new ApiError(
                `${where}: ${c.reason} (token refreshed, retrying once)`,
                'transient',
                res.status,
                'AUTH',
                detail,
              );
            }
            throw new AbortError(
              new ApiError(`${where}: ${c.reason}`, 'terminal', res.status, 'AUTH', detail),
            );
          case 'terminal':
            throw new AbortError(
              new ApiError(`${where}: ${c.reason}`, 'terminal', res.status, c.code ?? null, detail),
            );
          case 'transient': {
            if (res.status === 429) this.stats.throttled++;
            const err = new ApiError(`${where}: ${c.reason}`, 'transient', res.status, null, detail);
            (err as ApiError & { retryAfterMs?: number }).retryAfterMs = c.retryAfterMs;
            throw err;
          }
        }
      },
      {
        retries: limits.maxRetries,
        factor: 2,
        minTimeout: limits.minBackoffMs ?? 500,
        maxTimeout: limits.maxBackoffMs ?? 30_000,
        randomize: true,
        onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
          this.stats.retries++;
          logger.debug({ err: error, attemptNumber, retriesLeft, vendor: policy.vendor }, 'retrying request');
          // Honour Retry-After on top of the backoff, capped so one bad header cannot stall a run.
          const wait = (error as { retryAfterMs?: number }).retryAfterMs;
          if (wait && wait > 0) await sleep(Math.min(wait, limits.maxBackoffMs ?? 60_000));
        },
      },
    ).catch((err: unknown) => {
      throw (err as { originalError?: unknown }).originalError ?? err;
    });
  }

  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, opts);
    const text = await res.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(
        `${this.opts.policy.vendor} ${method} ${path}: response is not JSON (${text.slice(0, 80)}…)`,
        'transient',
        res.status,
        'BAD_JSON',
        { vendor: this.opts.policy.vendor, tenant: this.opts.tenant, system: this.opts.system, method, path },
      );
    }
  }

  async close(): Promise<void> {
    await this.limiter.stop({ dropWaitingJobs: false });
  }
}

/** Parses a Retry-After header (seconds or an HTTP date) into milliseconds. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const v = headers.get('retry-after');
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

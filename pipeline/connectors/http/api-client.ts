// The HTTP client every API connector (salesforce, hubspot, netsuite) shares: retries with capped
// exponential backoff and jitter (p-retry, staging/model/backoff.ts), Retry-After, a per-tenant
// rate limiter and concurrency cap (Bottleneck) with per-lane limiters for requests a vendor limits
// separately, 401 handling (a refresh once for all requests rejected with the same token, resent
// outside the transient retry budget; auth-refresh.ts), and vendor policies that classify
// responses. A daily-limit response stops the tenant with DailyLimitError. `timeoutMs` bounds the
// wait for headers, a body has an idle timeout; a RetryBudget lets a caller that retries on its own
// share one budget with the client's retries. More: docs/capture.md, "The HTTP client".
import Bottleneck from 'bottleneck';
import pRetry, { AbortError } from 'p-retry';
import { DEFAULT_BACKOFF, retryOptions, sleep } from '../../../staging/model/backoff.js';
import type { Logger } from '../../log/logger.js';
import { ApiError, asApiError, DailyLimitError } from './api-errors.js';
import { AuthRefresh } from './auth-refresh.js';
import {
  DEFAULT_MAX_BODY_BYTES,
  guardedResponse,
  type PageSchema,
  readJsonBody,
  requestLabel,
} from './response-body.js';

export { ApiError, DailyLimitError } from './api-errors.js';
export type { PageSchema } from './response-body.js';

export type Classification =
  | { kind: 'ok' }
  | {
      kind: 'transient';
      reason: string;
      retryAfterMs?: number;
      /** A rate or concurrency limit (counted in stats.throttled), whatever the status. */
      throttled?: boolean;
    }
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
  /**
   * Called after a 401; should obtain a fresh token. The client calls it once for all requests
   * rejected with the same token, and sends each again outside the transient retry budget.
   * Without it, 401 is a terminal auth error.
   */
  refreshAuth?(): Promise<void>;
  /** Sees every response (limit headers such as Sforce-Limit-Info). */
  observe?(headers: Headers): void;
  /** The separately limited lane a request belongs to (HubSpot search), if any. */
  laneOf?(req: { method: string; path: string }): RequestLane | undefined;
}

/** A class of requests the vendor limits on its own, at `requestsPerSecond` by default. */
export interface RequestLane {
  name: string;
  requestsPerSecond: number;
}

export interface ClientLimits {
  requestsPerSecond: number;
  concurrency: number;
  /** Retries after the first attempt, per request (or per shared RetryBudget). */
  maxRetries: number;
  /** Until the response headers arrive. */
  timeoutMs: number;
  /** The longest wait for the next piece of a body being read (default: timeoutMs). */
  idleTimeoutMs?: number;
  /** The largest response body read (default DEFAULT_MAX_BODY_BYTES, 64 MiB); larger is a terminal error. */
  maxBodyBytes?: number;
  /** Backoff bounds (default 500 and 30000 ms); maxBackoffMs also caps a Retry-After (default 60000). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Request rate per lane (policy.laneOf), overriding the policy's default for that lane. */
  lanes?: Readonly<Record<string, { requestsPerSecond: number }>>;
}

/** The configured limits with a run's overrides (tests shorten backoffs) on top. */
export function mergeLimits(
  configured: ClientLimits,
  override: Partial<ClientLimits> | undefined,
): ClientLimits {
  return { ...configured, ...override };
}

/**
 * Retries shared by everything that works on one unit (a result chunk read in several attempts):
 * the client's retries of its requests and the caller's re-reads of a cut body draw from one
 * budget, so nesting them never multiplies the attempts.
 */
export class RetryBudget {
  constructor(private left: number) {}

  get remaining(): number {
    return this.left;
  }

  /** Takes one retry; false when none is left. */
  take(): boolean {
    if (this.left <= 0) return false;
    this.left--;
    return true;
  }
}

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  /** Expected content type of the response; default JSON. */
  accept?: string;
  /** Draw retries from this budget (shared with the caller) instead of a fresh maxRetries. */
  budget?: RetryBudget;
  /**
   * json(): the shape a 200 must have (a page with the fields its paging depends on). A body
   * that is not (an HTML error page, empty, cut short, without `paging`) is a transient error —
   * re-read, then failing the request — never taken for an empty or last page.
   */
  schema?: PageSchema<unknown>;
  /** What the request reads, for messages ("companies (customer)", "stream customer"). */
  about?: string;
  /**
   * This request's body cap instead of limits.maxBodyBytes: a body the caller streams (a Bulk
   * result chunk parsed as it arrives) is not held in memory and may be larger.
   */
  maxBodyBytes?: number;
}

export interface ApiClientOptions {
  baseUrl: string;
  policy: VendorPolicy;
  limits: ClientLimits;
  tenant: string;
  system: string;
  logger: Logger;
  /** The header and body-idle timeout timers; tests pass their own to fire them on a condition. */
  timers?: TimeoutTimers;
}

export interface TimeoutTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}
const REAL_TIMERS: TimeoutTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout),
};

export interface ClientStats {
  requests: number;
  retries: number;
  throttled: number;
}

export class ApiClient {
  readonly stats: ClientStats = { requests: 0, retries: 0, throttled: 0 };
  private readonly limiter: Bottleneck;
  private readonly laneLimiters = new Map<string, Bottleneck>();
  private readonly base: URL;
  private readonly auth: AuthRefresh;

  constructor(private readonly opts: ApiClientOptions) {
    this.base = new URL(opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`);
    this.limiter = new Bottleneck({
      maxConcurrent: opts.limits.concurrency,
      minTime: Math.ceil(1000 / opts.limits.requestsPerSecond),
    });
    this.auth = new AuthRefresh({
      tenant: opts.tenant,
      system: opts.system,
      vendor: opts.policy.vendor,
      logger: opts.logger,
      timeoutMs: opts.limits.timeoutMs,
      ...(opts.policy.refreshAuth ? { refresh: () => opts.policy.refreshAuth!() } : {}),
    });
  }

  get tenant(): string {
    return this.opts.tenant;
  }
  get system(): string {
    return this.opts.system;
  }

  url(path: string, query?: RequestOptions['query']): URL {
    const url = new URL(path.replace(/^\//, ''), this.base);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  /**
   * Sends a request, retrying transient failures, and returns the successful Response with its
   * body unread (callers stream large bodies; the body errors with a transient ApiError
   * IDLE_TIMEOUT when no byte arrives for idleTimeoutMs while it is being read). Throws ApiError
   * (terminal, or transient after the retry cap) or DailyLimitError.
   */
  request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    return this.attempts(method, path, opts, async (res) => res);
  }

  /**
   * A request whose JSON body is read inside each attempt: a body cut short, not UTF-8, not JSON
   * or not of `opts.schema`'s shape is retried too (transient), then fails the request.
   */
  json<T>(method: string, path: string, opts: RequestOptions & { schema?: PageSchema<T> } = {}): Promise<T> {
    const detail = this.detail(method, path);
    const where = `${requestLabel(detail)}${opts.about ? ` (${opts.about})` : ''}`;
    return this.attempts<T>(method, path, opts, (res) =>
      readJsonBody(res, { detail, where, schema: opts.schema }),
    );
  }

  private detail(method: string, path: string): ApiError['detail'] {
    const { policy, tenant, system } = this.opts;
    return { vendor: policy.vendor, tenant, system, method, path };
  }

  private async attempts<T>(
    method: string,
    path: string,
    opts: RequestOptions,
    read: (res: Response) => Promise<T>,
  ): Promise<T> {
    const { policy, limits, tenant, system, logger } = this.opts;
    const detail = this.detail(method, path);
    const budget = opts.budget;
    this.auth.check();
    // Set once this request was sent again after a refresh: a 401 after that is terminal.
    let resent = false;
    let retrying = false;
    return pRetry(
      async () => {
        for (;;) {
          // A transient retry after another request's terminal auth error fails with that error.
          if (this.auth.failure) throw new AbortError(this.auth.failure);
          const generation = this.auth.generation;
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
          const maxBytes = opts.maxBodyBytes ?? limits.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
          const req = { url, method, headers, body, detail, maxBytes };
          const send = () => this.limiter.schedule(() => this.send(req));
          const lane = this.lane(method, path);
          const res = await (lane ? lane.schedule(send) : send());
          policy.observe?.(res.headers);
          if (res.ok) return read(res);
          const text = await res.text().catch(() => '');
          const c = policy.classify(res.status, res.headers, text);
          const where = `${policy.vendor} ${method} ${path} → ${res.status}`;
          switch (c.kind) {
            case 'ok':
              return read(new Response(text, { status: res.status, headers: res.headers }));
            case 'daily_limit':
              throw new AbortError(
                new DailyLimitError(`${where}: ${c.reason}`, c.resumeAt ?? null, {
                  vendor: policy.vendor,
                  tenant,
                  system,
                }),
              );
            case 'auth':
              await this.auth
                .afterUnauthorized(
                  new ApiError(`${where}: ${c.reason}`, 'terminal', res.status, 'AUTH', detail),
                  generation,
                  resent,
                )
                .catch((err: unknown) => {
                  throw new AbortError(err as Error);
                });
              // Sent again in this same attempt: the resend is not a transient retry.
              resent = true;
              continue;
            case 'terminal':
              throw new AbortError(
                new ApiError(`${where}: ${c.reason}`, 'terminal', res.status, c.code ?? null, detail),
              );
            case 'transient': {
              if (res.status === 429 || c.throttled) this.stats.throttled++;
              const err = new ApiError(`${where}: ${c.reason}`, 'transient', res.status, null, detail);
              (err as ApiError & { retryAfterMs?: number }).retryAfterMs = c.retryAfterMs;
              throw err;
            }
          }
        }
      },
      {
        ...retryOptions(
          {
            minMs: limits.minBackoffMs ?? DEFAULT_BACKOFF.minMs,
            maxMs: limits.maxBackoffMs ?? DEFAULT_BACKOFF.maxMs,
          },
          limits.maxRetries,
        ),
        onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
          // Retry only while this request's retries last and the shared budget (if any) gives one.
          // A terminal error thrown while reading a body (too large) is not retried either.
          const terminal = error instanceof ApiError && error.kind === 'terminal';
          retrying = !terminal && retriesLeft > 0 && (!budget || budget.take());
          if (!retrying) return;
          this.stats.retries++;
          logger.debug({ err: error, attemptNumber, retriesLeft, vendor: policy.vendor }, 'retrying request');
          // Honour Retry-After on top of the backoff, capped so one bad header cannot stall a run.
          const wait = (error as { retryAfterMs?: number }).retryAfterMs;
          if (wait && wait > 0) await sleep(Math.min(wait, limits.maxBackoffMs ?? 60_000));
        },
        shouldRetry: () => retrying,
      },
    ).catch((err: unknown) => {
      throw (err as { originalError?: unknown }).originalError ?? err;
    });
  }

  /**
   * One fetch. `timeoutMs` covers the wait for the response headers only; the body gets an idle
   * timeout instead, so a long result that keeps arriving is never cut, and a stalled one is.
   */
  private async send(req: {
    url: URL;
    method: string;
    headers: Record<string, string>;
    body: string | undefined;
    detail: ApiError['detail'];
    maxBytes: number;
  }): Promise<Response> {
    const { url, method, headers, body, detail } = req;
    const { limits, policy } = this.opts;
    const controller = new AbortController();
    const timers = this.opts.timers ?? REAL_TIMERS;
    const headerTimer = timers.setTimeout(
      () =>
        controller.abort(
          new ApiError(
            `${policy.vendor} ${method} ${detail.path}: no response within ${limits.timeoutMs} ms`,
            'transient',
            null,
            'TIMEOUT',
            detail,
          ),
        ),
      limits.timeoutMs,
    );
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body: body ?? null, signal: controller.signal });
    } catch (err) {
      // Connection reset, refused, timeout: all transient.
      throw asApiError(controller.signal.reason ?? err, `${policy.vendor} ${method} ${detail.path}`, detail);
    } finally {
      timers.clearTimeout(headerTimer);
    }
    return guardedResponse(res, {
      idleMs: limits.idleTimeoutMs ?? limits.timeoutMs,
      maxBytes: req.maxBytes,
      detail,
      timers,
      controller,
    });
  }

  /** The limiter of the lane a request belongs to, created on first use; none for most requests. */
  private lane(method: string, path: string): Bottleneck | undefined {
    const lane = this.opts.policy.laneOf?.({ method, path });
    if (!lane) return undefined;
    let limiter = this.laneLimiters.get(lane.name);
    if (!limiter) {
      const rps = this.opts.limits.lanes?.[lane.name]?.requestsPerSecond ?? lane.requestsPerSecond;
      limiter = new Bottleneck({ maxConcurrent: 1, minTime: Math.ceil(1000 / rps) });
      this.laneLimiters.set(lane.name, limiter);
    }
    return limiter;
  }

  async close(): Promise<void> {
    await this.limiter.stop({ dropWaitingJobs: false });
    for (const lane of this.laneLimiters.values()) await lane.stop({ dropWaitingJobs: false });
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

// The requests of a HubSpot sync, over the shared ApiClient, with HubSpot's 401 handling here:
// a 401 (an OAuth access token that expired during a long run) refreshes the token once and sends
// the request again, and that retry is not drawn from the transient retry budget (5xx, 429,
// dropped connections), so a token expiring after a few transient errors does not fail the
// request. The ApiClient's own refresh hook is not used for that reason: its retry after a
// refresh is one of the transient retries. The transient budget stays one per request across the
// refresh. A 401 right after the refresh (the fresh token is rejected too) is a terminal auth
// error naming tenant and system, and every later request of the run fails with it at once.
import type { Logger } from '../../log/logger.js';
import { type ApiClient, ApiError, type RequestOptions, RetryBudget } from '../http/api-client.js';

/** What the extractor needs of a client: one JSON request. */
export interface HubspotRequester {
  json<T>(method: string, path: string, opts?: RequestOptions): Promise<T>;
}

export interface HubspotClientOptions {
  tenant: string;
  system: string;
  /** Transient retries per request (limits.maxRetries). */
  maxRetries: number;
  /** Fetches a fresh token (SyncOptions.refreshAuth); without it a 401 is terminal. */
  refreshAuth?: () => Promise<void>;
  logger: Logger;
}

export class HubspotClient implements HubspotRequester {
  /** Counts completed refreshes: a request that was sent before one does not refresh again. */
  private generation = 0;
  private refreshing: Promise<void> | null = null;
  /** The terminal auth error of this run, once a token was rejected for good. */
  private authFailure: ApiError | null = null;

  /** `client` must not have a refresh hook in its policy: a 401 must reach this class unretried. */
  constructor(
    private readonly client: ApiClient,
    private readonly opts: HubspotClientOptions,
  ) {}

  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    if (this.authFailure) throw this.authFailure;
    // One transient budget for the request, shared by the attempts before and after a refresh.
    const budget = opts.budget ?? new RetryBudget(this.opts.maxRetries);
    const sentAt = this.generation;
    try {
      return await this.client.json<T>(method, path, { ...opts, budget });
    } catch (err) {
      if (!isUnauthorized(err)) throw err;
      if (!this.opts.refreshAuth)
        throw this.fail(err, 'no token refresh is configured: check the accessToken');
      // Concurrent requests that failed with the same old token share one refresh.
      if (sentAt === this.generation) await this.refresh(err);
    }
    try {
      return await this.client.json<T>(method, path, { ...opts, budget });
    } catch (err) {
      if (!isUnauthorized(err)) throw err;
      throw this.fail(
        err,
        '401 again right after a token refresh: the fresh token is rejected too; check the private app or OAuth grant',
      );
    }
  }

  private refresh(cause: ApiError): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        await this.opts.refreshAuth!();
      } catch (err) {
        throw this.fail(cause, `the token refresh failed: ${(err as Error)?.message ?? String(err)}`);
      }
      this.generation++;
      this.opts.logger.info({ path: cause.detail.path }, 'HubSpot answered 401; token refreshed, retrying');
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private fail(cause: ApiError, why: string): ApiError {
    const { tenant, system } = this.opts;
    this.authFailure = new ApiError(
      `tenant ${tenant}, system ${system}: ${cause.message} (${why})`,
      'terminal',
      cause.status,
      'AUTH',
      cause.detail,
    );
    return this.authFailure;
  }
}

function isUnauthorized(err: unknown): err is ApiError {
  return err instanceof ApiError && err.code === 'AUTH' && err.status === 401;
}

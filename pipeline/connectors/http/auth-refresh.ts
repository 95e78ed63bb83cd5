// The 401 handling of one ApiClient (one tenant × system), shared by all its requests. A 401 (an
// access token that expired during a long run) refreshes the token once for every request that
// was rejected with the same old token; the client then sends each request again within the same
// attempt, outside the transient retry budget. It never loops: a 401 on a request already sent
// again after a refresh, a 401 with no refresh hook, or a failing refresh is a terminal auth error
// naming tenant and system, and the client's later requests fail with that same error at once, so
// the streams of a run do not each refresh again (no refresh storm).
import type { Logger } from '../../log/logger.js';
import { redact } from '../../log/redact.js';
import { ApiError } from './api-errors.js';

export interface AuthRefreshOptions {
  tenant: string;
  system: string;
  vendor: string;
  logger: Logger;
  /** Obtains a fresh token (the policy's refreshAuth); without it a 401 is terminal. */
  refresh?: () => Promise<void>;
  /** How long a refresh may take (the client's request timeout): a hung token endpoint fails. */
  timeoutMs: number;
}

export class AuthRefresh {
  /** Completed refreshes: a request sent before the latest one is resent without refreshing. */
  private completed = 0;
  private refreshing: Promise<void> | null = null;
  private terminal: ApiError | null = null;

  constructor(private readonly opts: AuthRefreshOptions) {}

  /** The token generation a request is sent with (read before its auth headers). */
  get generation(): number {
    return this.completed;
  }

  /** The terminal auth error, once a token was rejected for good. */
  get failure(): ApiError | null {
    return this.terminal;
  }

  /** Throws the terminal auth error once there is one. */
  check(): void {
    if (this.terminal) throw this.terminal;
  }

  /**
   * After a 401 (`cause`) on a request sent with token `generation`: resolves once a fresh token
   * is in place (refreshed here, or by the refresh another request started, or by one completed
   * since the request was sent); rejects with the terminal auth error otherwise. `resent`: the
   * request was already sent again after a refresh.
   */
  async afterUnauthorized(cause: ApiError, generation: number, resent: boolean): Promise<void> {
    this.check();
    const refresh = this.opts.refresh;
    if (!refresh) throw this.fail(cause, 'no token refresh is configured: check the credentials');
    if (resent)
      throw this.fail(
        cause,
        '401 again right after a token refresh: the fresh token was rejected too; check the credentials and the grant',
      );
    if (generation !== this.completed) return;
    this.refreshing ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          refresh(),
          new Promise<never>((_resolve, reject) => {
            timer = setTimeout(
              () => reject(new Error(`it did not finish within ${this.opts.timeoutMs} ms`)),
              this.opts.timeoutMs,
            );
          }),
        ]);
      } catch (err) {
        // The hook's own message may quote what it sent (a grant, a token): redacted.
        throw this.fail(cause, `the token refresh failed: ${redact((err as Error)?.message ?? String(err))}`);
      } finally {
        clearTimeout(timer);
      }
      this.completed++;
      this.opts.logger.info(
        { vendor: this.opts.vendor, path: cause.detail.path },
        '401: token refreshed; sending the request again',
      );
    })().finally(() => {
      this.refreshing = null;
    });
    await this.refreshing;
  }

  /** Records the terminal auth error: this request and every later one fail with it. */
  private fail(cause: ApiError, why: string): ApiError {
    const { tenant, system } = this.opts;
    this.terminal ??= new ApiError(
      `tenant ${tenant}, system ${system}: ${cause.message} (${why})`,
      'terminal',
      cause.status,
      'AUTH',
      cause.detail,
    );
    return this.terminal;
  }
}

// The errors of the shared HTTP client (api-client.ts): ApiError (terminal or transient, with the
// vendor, tenant, system, method and path of the request) and DailyLimitError (pause the tenant).
import { TrueupError } from '../../../staging/model/errors.js';

export class ApiError extends TrueupError {
  override name = 'ApiError';
  constructor(
    message: string,
    kind: 'terminal' | 'transient',
    readonly status: number | null,
    readonly code: string | null,
    readonly detail: { vendor: string; tenant: string; system: string; method: string; path: string },
  ) {
    super(message, { kind, subject: { tenant: detail.tenant, system: detail.system } });
  }
}

/** The vendor's daily (or otherwise long) limit is exhausted: stop this tenant's extraction. */
export class DailyLimitError extends TrueupError {
  override name = 'DailyLimitError';
  constructor(
    message: string,
    readonly resumeAt: Date | null,
    readonly detail: { vendor: string; tenant: string; system: string },
  ) {
    super(message, { kind: 'paused', subject: { tenant: detail.tenant, system: detail.system } });
  }
}

/** A failure without a kind (socket reset, abort) as a transient ApiError; ApiErrors pass. */
export function asApiError(err: unknown, where: string, detail: ApiError['detail']): ApiError {
  if (err instanceof ApiError) return err;
  const cause = (err as { cause?: unknown })?.cause;
  if (cause instanceof ApiError) return cause;
  return new ApiError(
    `${where}: ${(err as Error)?.message ?? String(err)}`,
    'transient',
    null,
    'NETWORK',
    detail,
  );
}

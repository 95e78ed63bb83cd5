// The errors of the shared HTTP client (api-client.ts): ApiError (terminal or transient, with the
// vendor, tenant, system, method and path of the request) and DailyLimitError (pause the tenant).

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

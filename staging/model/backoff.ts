// The one backoff rule of trueup: the wait before retry `attempt` grows geometrically from minMs
// and is capped at maxMs. Pure (time and randomness passed in) so a state machine can use it;
// `retryOptions` gives the same rule to p-retry, the retry engine wherever a loop is needed.

export interface BackoffBounds {
  minMs: number;
  maxMs: number;
}

/** The bounds when a config gives none. */
export const DEFAULT_BACKOFF: Readonly<BackoffBounds> = Object.freeze({ minMs: 500, maxMs: 30_000 });

/**
 * The wait before retry `attempt` (1 = the first retry): minMs · 2^(attempt−1), capped at maxMs.
 * With `random` (a source of [0, 1)), jittered down to between half and all of it, so clients
 * failing together do not retry together.
 */
export function backoffDelay(attempt: number, b: BackoffBounds, random?: () => number): number {
  const delay = Math.min(b.maxMs, b.minMs * 2 ** Math.max(0, attempt - 1));
  return random ? delay * (0.5 + random() / 2) : delay;
}

/** The same rule as p-retry options (exponential from minMs, factor 2, capped, jittered). */
export function retryOptions(b: BackoffBounds, retries: number) {
  return { retries, factor: 2, minTimeout: b.minMs, maxTimeout: b.maxMs, randomize: true } as const;
}

/** Waits `ms`; an aborted signal ends the wait early (it resolves, never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done);
  });
}

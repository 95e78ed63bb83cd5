// A bearer token that a run's refresh hook (SyncOptions.refreshAuth) can replace after a 401.
import { registerSecret } from '../../log/redact.js';

/** `token()` reads the current token; `refreshAuth` (only when a hook is given) fetches the next. */
export function refreshableToken(
  initial: string,
  refresh: (() => Promise<string | undefined>) | undefined,
): { token: () => string; refreshAuth?: () => Promise<void> } {
  let token = initial;
  return {
    token: () => token,
    ...(refresh
      ? {
          refreshAuth: async () => {
            const fresh = await refresh();
            if (typeof fresh === 'string' && fresh) {
              // A refreshed token is as secret as the configured one: never in a log line.
              registerSecret(fresh);
              token = fresh;
            }
          },
        }
      : {}),
  };
}

// The ApiClient of one tenant's system: its base URL and configured limits (with the run's
// overrides), its vendor policy, and log lines carrying tenant, system and kind.
import type { SystemHandle } from '../contract.js';
import { ApiClient, type ClientLimits, mergeLimits, type VendorPolicy } from './api-client.js';
import { refreshableToken } from './refreshable-token.js';

export function systemClient(
  sys: SystemHandle<{ baseUrl: string; limits: ClientLimits }>,
  policy: VendorPolicy,
): ApiClient {
  return new ApiClient({
    baseUrl: sys.config.baseUrl,
    policy,
    limits: mergeLimits(sys.config.limits, sys.options.limits),
    tenant: sys.tenant,
    system: sys.system,
    logger: sys.logger,
  });
}

/**
 * The same with a bearer token the run's refresh hook (SyncOptions.refreshAuth) can replace after
 * a 401: `policy` builds the vendor policy from the current token and the refresh (when hooked).
 */
export function refreshingClient(
  sys: SystemHandle<{ baseUrl: string; limits: ClientLimits }>,
  initialToken: string,
  policy: (auth: { token: () => string; refreshAuth?: () => Promise<void> }) => VendorPolicy,
): ApiClient {
  return systemClient(sys, policy(refreshableToken(initialToken, sys.options.refreshAuth)));
}

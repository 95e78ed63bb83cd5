// One entry per non-CDC connector kind: the function that runs one pass of extraction for a
// tenant's system (full load the first time, incremental after) and reports what it did. The
// `trueup sync` command dispatches through this map; `postgres` sources stream instead
// (pipeline/connectors/postgres/sync-source.ts).
import { runCsvSync } from './csv/run-csv-sync.js';
import { runHubspotSync } from './hubspot/run-hubspot-sync.js';
import { runNetsuiteSync } from './netsuite/run-netsuite-sync.js';
import type { ConnectorKind } from './registry.js';
import { runSalesforceSync } from './salesforce/run-salesforce-sync.js';
import { configFailure, type SyncDeps, type SyncOptions, type SyncReport } from './sync-support.js';

/** Options of one pass; `entities` carries the tenant's mapping overrides to every connector. */
export type ApiSyncOptions = SyncOptions;

type ApiSync = (
  deps: SyncDeps,
  tenant: string,
  system: string,
  config: unknown,
  opts?: ApiSyncOptions,
) => Promise<SyncReport>;

export const API_SYNCS: Readonly<Record<Exclude<ConnectorKind, 'postgres'>, ApiSync>> = Object.freeze({
  salesforce: (deps, tenant, system, config, opts) => runSalesforceSync(deps, tenant, system, config, opts),
  hubspot: (deps, tenant, system, config, opts) => runHubspotSync(deps, tenant, system, config, opts),
  netsuite: (deps, tenant, system, config, opts) => runNetsuiteSync(deps, tenant, system, config, opts),
  csv: (deps, tenant, system, config, opts) => runCsvSync(deps, tenant, system, config, opts),
});

/** Runs one pass for a non-CDC system; never throws for that system's own problems. */
export async function runApiSync(
  deps: SyncDeps,
  kind: Exclude<ConnectorKind, 'postgres'>,
  tenant: string,
  system: string,
  config: unknown,
  opts: ApiSyncOptions = {},
): Promise<SyncReport> {
  const startedAt = Date.now();
  try {
    return await API_SYNCS[kind](deps, tenant, system, config, opts);
  } catch (err) {
    deps.logger.error({ err, tenant, system, kind }, 'sync failed');
    const report = configFailure(tenant, system, kind, startedAt, err);
    if (!(err as { issues?: unknown }).issues)
      report.error = `${kind} sync of ${tenant}/${system} failed: ${(err as Error).message}`;
    return report;
  }
}

// Entry points of the apply step for the layers above: the writers of a tenant's systems through
// the connector registry, and the scheduled run's `actions.applyAfterRun` (what the policy
// approved is applied right after the run that approved it; a person's approvals wait for
// `trueup actions apply`).
import type { Staging } from '../../staging/database.js';
import type { TenantConfig } from '../../staging/model/tenant-config.js';
import { tenantStaging } from '../../staging/scoped-staging.js';
import type { ConnectorWriter } from '../connectors/contract.js';
import { openWriter } from '../connectors/open-writer.js';
import type { Logger } from '../log/logger.js';
import { ApplyError, type ApplyReport } from './apply-types.js';
import { applyActions } from './run-apply.js';

/** Opens the writer of one of the tenant's systems (its kind's connector, the tenant's mapping overrides). */
export function tenantWriters(
  deps: { staging: Staging; logger: Logger },
  tenant: string,
  config: TenantConfig,
): (system: string) => ConnectorWriter {
  return (system) => {
    const sys = Object.hasOwn(config.systems, system) ? config.systems[system] : undefined;
    if (!sys)
      throw new ApplyError(`tenant ${tenant} has no system ${system}`, { subject: { tenant, system } });
    return openWriter({ ...deps, staging: tenantStaging(deps.staging, tenant) }, tenant, system, sys, {
      entities: config.entities,
    });
  };
}

/** The actor a scheduled run's apply is audited as. */
export const SCHEDULED_APPLIER = 'policy:apply_after_run';

/** After a run: applies what the policy approved when the tenant says so (null: it does not). */
export async function applyAfterRun(deps: {
  staging: Staging;
  logger: Logger;
  tenant: string;
  config: TenantConfig;
}): Promise<ApplyReport | null> {
  const { actions } = deps.config;
  if (!actions.applyAfterRun || actions.policy !== 'auto_approve') return null;
  return applyActions({
    staging: deps.staging,
    tenant: deps.tenant,
    config: deps.config,
    by: SCHEDULED_APPLIER,
    write: true,
    onlyPolicyApproved: true,
    logger: deps.logger,
    openWriter: tenantWriters(deps, deps.tenant, deps.config),
  });
}

// The slice of a tenant's frozen config that one reconcile job needs, as plain data for the worker
// thread: its CRM and ERP system names, the entity's config (defaults when the tenant has none),
// materiality, the actions policy, the direct keys of the entities it refers to, and the dead-letter
// share above which a side is incomplete.
import type { Entity } from '../../staging/model/entities.js';
import { TrueupError } from '../../staging/model/errors.js';
import {
  type EntityConfig,
  entityConfigSchema,
  systemsByRole,
  type TenantConfig,
} from '../../staging/model/tenant-config.js';
import { referencedEntities } from '../compare/reference-fields.js';
import type { TenantSlice } from '../pool/job-protocol.js';

/** A tenant that cannot be reconciled as configured (e.g. no system with role crm or erp). */
export class ReconcileError extends TrueupError {
  override name = 'ReconcileError';
}

export function tenantSlice(t: TenantConfig, entity: Entity): TenantSlice {
  const { crm, erp } = systemsByRole(t);
  if (!crm || !erp)
    throw new ReconcileError('the tenant needs one system with role crm and one with role erp', {
      subject: { entity },
    });
  const configOf = (e: Entity): EntityConfig => t.entities[e] ?? entityConfigSchema.parse({});
  const references: TenantSlice['references'] = {};
  for (const target of referencedEntities(entity))
    references[target] = { direct: configOf(target).match.direct };
  // Structured clone of the frozen config: plain data for the worker thread.
  return JSON.parse(
    JSON.stringify({
      systems: { crm, erp },
      entity: configOf(entity),
      materiality: t.materiality,
      actions: t.actions,
      references,
      maxDeadLetterShare: t.sync?.maxDeadLetterShare ?? 0.01,
    } satisfies TenantSlice),
  ) as TenantSlice;
}

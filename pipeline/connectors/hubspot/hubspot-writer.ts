// The corrective writer for HubSpot: batch upsert by a unique id property
// (POST /crm/v3/objects/{type}/batch/upsert, at most 100 inputs per call). A 207 answer carries
// per-input errors: those inputs are reported failed (terminal, for the dead-letter/actions side)
// and the rest count as written. Canonical fields are turned into HubSpot properties through the
// inverse of the object's mapping. Used by the operations issue's apply step.
import type { Entity } from '../../../staging/model/entities.js';
import type { Logger } from '../../log/logger.js';
import { ApiClient } from '../http/api-client.js';
import { type TenantEntityMapping, tenantEntityMapping } from '../map-record.js';
import { mergeLimits, type WriterOptions } from '../sync-support.js';
import { type HubspotObjectType, type HubspotSystemConfig, hubspotResolvedConfig } from './config.js';
import { HUBSPOT_PROPERTY, hubspotEntity, hubspotObjectMapping } from './hubspot-mapping.js';
import { hubspotPolicy } from './hubspot-policy.js';

export const HUBSPOT_BATCH_LIMIT = 100;

export interface HubspotUpsertInput {
  /** The value of `idProperty` that identifies the record (e.g. the ERP id). */
  id: string;
  properties: Record<string, string | null>;
}

export interface WriteOutcome {
  written: { id: string; recordId: string; created: boolean }[];
  failed: { id: string; message: string; code: string }[];
}

interface BatchResponse {
  status: string;
  results?: { id: string; properties?: Record<string, string | null>; new?: boolean }[];
  numErrors?: number;
  errors?: { message: string; category?: string; context?: Record<string, string[]> }[];
}

export async function hubspotBatchUpsert(
  client: ApiClient,
  objectType: HubspotObjectType,
  idProperty: string,
  inputs: readonly HubspotUpsertInput[],
): Promise<WriteOutcome> {
  const out: WriteOutcome = { written: [], failed: [] };
  for (let i = 0; i < inputs.length; i += HUBSPOT_BATCH_LIMIT) {
    const chunk = inputs.slice(i, i + HUBSPOT_BATCH_LIMIT);
    const res = await client.json<BatchResponse>('POST', `crm/v3/objects/${objectType}/batch/upsert`, {
      body: { inputs: chunk.map((c) => ({ id: c.id, idProperty, properties: c.properties })) },
    });
    const failedIds = new Set<string>();
    for (const e of res.errors ?? []) {
      const ids = Object.values(e.context ?? {}).flat();
      for (const id of ids.length ? ids : chunk.map((c) => c.id)) {
        failedIds.add(id);
        out.failed.push({ id, message: e.message, code: e.category ?? 'ERROR' });
      }
    }
    for (const r of res.results ?? []) {
      const id = r.properties?.[idProperty] ?? null;
      if (id !== null && !failedIds.has(id))
        out.written.push({ id, recordId: r.id, created: r.new === true });
    }
  }
  return out;
}

/** Canonical fields → HubSpot properties of `objectType` (links and unmapped fields are skipped). */
export function toHubspotProperties(
  objectType: HubspotObjectType,
  config: HubspotSystemConfig,
  fields: Record<string, unknown>,
  tenant: TenantEntityMapping = {},
): Record<string, string | null> {
  const m = hubspotObjectMapping(objectType, config, tenant);
  const props: Record<string, string | null> = {};
  for (const [canonical, property] of Object.entries(m.mapping.fields)) {
    if (canonical === 'crm_ref' || canonical === 'erp_ref' || !(canonical in fields)) continue;
    const v = fields[canonical];
    const reverse = Object.entries(m.mapping.valueMaps?.[canonical] ?? {}).find(([, to]) => to === v)?.[0];
    props[property] = v === null || v === undefined ? null : (reverse ?? String(v));
  }
  return props;
}

/** A writer bound to one tenant's HubSpot system. */
export function createHubspotWriter(
  deps: { logger: Logger },
  tenant: string,
  systemName: string,
  systemConfig: unknown,
  opts: WriterOptions = {},
) {
  const config = hubspotResolvedConfig.parse(systemConfig);
  const tenantMapping = (type: HubspotObjectType) =>
    tenantEntityMapping(opts.entities, hubspotEntity(type), systemName, HUBSPOT_PROPERTY);
  const client = new ApiClient({
    baseUrl: config.baseUrl,
    policy: hubspotPolicy({ token: () => config.accessToken }),
    limits: mergeLimits(config.limits, opts.limits),
    tenant,
    system: systemName,
    logger: deps.logger.child({ tenant, system: systemName, connector: 'hubspot', writer: true }),
  });
  const typeOf = (entity: Entity): HubspotObjectType => {
    const t = config.objects.find((o) => hubspotEntity(o) === entity);
    if (!t)
      throw new Error(`hubspot system ${systemName} of tenant ${tenant} has no object type for ${entity}`);
    return t;
  };
  return {
    client,
    /** Upserts canonical records keyed by the ERP id (config.erpIdProperty). */
    async upsert(entity: Entity, records: readonly { erpId: string; fields: Record<string, unknown> }[]) {
      const type = typeOf(entity);
      return hubspotBatchUpsert(
        client,
        type,
        config.erpIdProperty,
        records.map((r) => ({
          id: r.erpId,
          properties: toHubspotProperties(type, config, r.fields, tenantMapping(type)),
        })),
      );
    },
    close: () => client.close(),
  };
}

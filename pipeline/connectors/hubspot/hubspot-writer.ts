// The corrective writer for HubSpot: batch upsert by a unique id property
// (POST /crm/v3/objects/{type}/batch/upsert, at most 100 inputs per call). Every input carries an
// `objectWriteTraceId` (the write-back action's idempotency key, else its index in the call):
// without one, a single bad value fails the whole batch with a 400 (WIRE.md "Batch upsert").
// A 207 answer ties each per-input error to its trace id; those inputs are reported failed
// (terminal, for the actions side) and the results, matched by trace id too (HubSpot does not
// promise to echo idProperty), count as written. A call rejected as a whole (400) fails its
// inputs with HubSpot's message and the next call goes on.
// Canonical fields are turned into HubSpot properties through the inverse of the object's
// mapping; a 401 refreshes the token through the run's hook (`deps.options.refreshAuth`).
import type { Entity } from '../../../staging/model/entities.js';
import type { Logger } from '../../log/logger.js';
import type { WriterOptions } from '../contract.js';
import { ApiClient, ApiError, mergeLimits } from '../http/api-client.js';
import { refreshableToken } from '../http/refreshable-token.js';
import { type TenantEntityMapping, tenantEntityMapping } from '../map-record.js';
import { type HubspotObjectType, type HubspotSystemConfig, hubspotResolvedConfig } from './config.js';
import { HUBSPOT_PROPERTY, hubspotEntity, hubspotObjectMapping } from './hubspot-mapping.js';
import { hubspotPolicy } from './hubspot-policy.js';

export const HUBSPOT_BATCH_LIMIT = 100;

export interface HubspotUpsertInput {
  /** The value of `idProperty` that identifies the record (e.g. the ERP id). */
  id: string;
  properties: Record<string, string | null>;
  /** Its objectWriteTraceId (the write-back's idempotency key); default its index in the call. */
  traceId?: string;
}

export interface WriteOutcome {
  written: { id: string; recordId: string; created: boolean }[];
  failed: { id: string; message: string; code: string }[];
}

interface BatchResponse {
  status: string;
  results?: {
    id: string;
    properties?: Record<string, string | null>;
    new?: boolean;
    objectWriteTraceId?: string;
  }[];
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
    let res: BatchResponse;
    try {
      res = await client.json<BatchResponse>('POST', `crm/v3/objects/${objectType}/batch/upsert`, {
        body: {
          inputs: chunk.map((c, k) => ({
            id: c.id,
            idProperty,
            properties: c.properties,
            objectWriteTraceId: c.traceId ?? String(k),
          })),
        },
      });
    } catch (err) {
      // A call rejected as a whole (a malformed request, idProperty not unique): its inputs fail.
      if (!(err instanceof ApiError) || err.kind !== 'terminal' || err.status === 401) throw err;
      for (const c of chunk) out.failed.push({ id: c.id, message: err.message, code: err.code ?? 'ERROR' });
      continue;
    }
    // Trace id → input; ids in an error's context are the fallback of an older answer.
    const byTrace = (trace: string | undefined) =>
      trace === undefined ? undefined : chunk.find((c, k) => (c.traceId ?? String(k)) === trace);
    const failed = new Set<HubspotUpsertInput>();
    for (const e of res.errors ?? []) {
      const traced = (e.context?.objectWriteTraceId ?? []).map(byTrace);
      const byId = (e.context?.ids ?? []).map((id) => chunk.find((c) => c.id === id));
      const hit = [...traced, ...byId].filter((c): c is HubspotUpsertInput => c !== undefined);
      for (const c of hit.length ? hit : chunk) {
        if (failed.has(c)) continue;
        failed.add(c);
        out.failed.push({ id: c.id, message: e.message, code: e.category ?? 'ERROR' });
      }
    }
    for (const r of res.results ?? []) {
      const input =
        byTrace(r.objectWriteTraceId) ??
        chunk.find((c) => c.id === (r.properties?.[idProperty] ?? undefined));
      if (input && !failed.has(input))
        out.written.push({ id: input.id, recordId: r.id, created: r.new === true });
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
  deps: { logger: Logger; options?: { refreshAuth?: () => Promise<string | undefined> } },
  tenant: string,
  systemName: string,
  systemConfig: unknown,
  opts: WriterOptions = {},
) {
  const config = hubspotResolvedConfig.parse(systemConfig);
  const tenantMapping = (type: HubspotObjectType) =>
    tenantEntityMapping(opts.entities, hubspotEntity(type), systemName, HUBSPOT_PROPERTY);
  const token = refreshableToken(config.accessToken, deps.options?.refreshAuth);
  const client = new ApiClient({
    baseUrl: config.baseUrl,
    policy: hubspotPolicy({
      token: token.token,
      ...(token.refreshAuth ? { refreshAuth: token.refreshAuth } : {}),
    }),
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
    async upsert(
      entity: Entity,
      records: readonly { erpId: string; fields: Record<string, unknown>; traceId?: string }[],
    ) {
      const type = typeOf(entity);
      return hubspotBatchUpsert(
        client,
        type,
        config.erpIdProperty,
        records.map((r) => ({
          id: r.erpId,
          properties: toHubspotProperties(type, config, r.fields, tenantMapping(type)),
          ...(r.traceId ? { traceId: r.traceId } : {}),
        })),
      );
    },
    close: () => client.close(),
  };
}

// The corrective writer for NetSuite: upsert by external id
// (PUT /services/rest/record/v1/{type}/eid:{externalId}, JSON body → 204 + Location). Each record
// is one request (the shared client applies the tenant's rate limit and concurrency cap);
// rejected records (4xx) are reported failed with NetSuite's error code, transient failures are
// retried by the client. Used by the operations issue's apply step.
import type { Entity } from '../../../staging/model/entities.js';
import type { Logger } from '../../log/logger.js';
import { ApiClient, ApiError } from '../http/api-client.js';
import { type TenantEntityMapping, tenantEntityMapping } from '../map-record.js';
import { mergeLimits, type WriterOptions } from '../sync-support.js';
import { netsuiteResolvedConfig } from './config.js';
import { netsuiteStreamSpec, SUITEQL_COLUMN } from './netsuite-mapping.js';
import { bearerSigner, netsuitePolicy, oauth1Signer } from './netsuite-policy.js';

/** Canonical entity → REST record type. */
export const NETSUITE_RECORD_TYPES: Partial<Record<Entity, string>> = {
  customer: 'customer',
  product: 'inventoryitem',
  order: 'salesorder',
  invoice: 'invoice',
  payment: 'customerpayment',
};

export interface NetsuiteWriteOutcome {
  written: { externalId: string; location: string | null; internalId: string | null }[];
  failed: { externalId: string; message: string; code: string }[];
}

const EXTERNAL_ID = /^[A-Za-z0-9_.:-]{1,255}$/;

export async function netsuiteUpsert(
  client: ApiClient,
  recordType: string,
  records: readonly { externalId: string; body: Record<string, unknown> }[],
): Promise<NetsuiteWriteOutcome> {
  const out: NetsuiteWriteOutcome = { written: [], failed: [] };
  await Promise.all(
    records.map(async (r) => {
      if (!EXTERNAL_ID.test(r.externalId)) {
        out.failed.push({
          externalId: r.externalId,
          message: 'external id has characters a URL path cannot carry',
          code: 'INVALID_EXTERNAL_ID',
        });
        return;
      }
      try {
        const res = await client.request('PUT', `services/rest/record/v1/${recordType}/eid:${r.externalId}`, {
          body: r.body,
        });
        await res.text();
        const location = res.headers.get('location');
        out.written.push({
          externalId: r.externalId,
          location,
          internalId: location?.split('/').pop() ?? null,
        });
      } catch (err) {
        if (!(err instanceof ApiError) || err.kind !== 'terminal') throw err;
        out.failed.push({ externalId: r.externalId, message: err.message, code: err.code ?? 'ERROR' });
      }
    }),
  );
  return out;
}

/** Canonical fields → NetSuite body fields through the inverse of the stream mapping. */
export function toNetsuiteBody(
  entity: Entity,
  systemConfig: unknown,
  fields: Record<string, unknown>,
  tenant: TenantEntityMapping = {},
): Record<string, unknown> {
  const config = netsuiteResolvedConfig.parse(systemConfig);
  const stream = (
    {
      customer: 'customer',
      product: 'item',
      order: 'salesorder',
      invoice: 'invoice',
      payment: 'payment',
    } as const
  )[entity as 'customer'];
  if (!stream) return {};
  const spec = netsuiteStreamSpec(stream, config, tenant);
  const body: Record<string, unknown> = {};
  for (const [canonical, column] of Object.entries(spec.mapping.fields)) {
    if (canonical === 'crm_ref' || canonical === 'erp_ref' || !(canonical in fields)) continue;
    const v = fields[canonical];
    const reverse = Object.entries(spec.mapping.valueMaps?.[canonical] ?? {}).find(
      ([, to]) => to === String(v),
    )?.[0];
    body[column] = reverse ?? v;
  }
  return body;
}

export function createNetsuiteWriter(
  deps: { logger: Logger },
  tenant: string,
  systemName: string,
  systemConfig: unknown,
  opts: WriterOptions = {},
) {
  const config = netsuiteResolvedConfig.parse(systemConfig);
  const client = new ApiClient({
    baseUrl: config.baseUrl,
    policy: netsuitePolicy({
      signer: config.oauth1 ? oauth1Signer(config.oauth1) : bearerSigner(() => config.accessToken ?? ''),
    }),
    limits: mergeLimits(config.limits, opts.limits),
    tenant,
    system: systemName,
    logger: deps.logger.child({ tenant, system: systemName, connector: 'netsuite', writer: true }),
  });
  return {
    client,
    /** Upserts canonical records by external id (the CRM's id, as NetSuite integrations usually key them). */
    async upsert(
      entity: Entity,
      records: readonly { externalId: string; fields: Record<string, unknown> }[],
    ) {
      const type = NETSUITE_RECORD_TYPES[entity];
      if (!type) throw new Error(`netsuite has no record type for ${entity}`);
      return netsuiteUpsert(
        client,
        type,
        records.map((r) => ({
          externalId: r.externalId,
          body: toNetsuiteBody(
            entity,
            config,
            r.fields,
            tenantEntityMapping(opts.entities, entity, systemName, SUITEQL_COLUMN),
          ),
        })),
      );
    },
    close: () => client.close(),
  };
}

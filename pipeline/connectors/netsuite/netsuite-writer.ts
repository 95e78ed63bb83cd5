// The corrective writer for NetSuite: upsert by external id
// (PUT /services/rest/record/v1/{type}/eid:{externalId}, JSON body → 204 + Location). Each record
// is one request (the shared client applies the tenant's rate limit and concurrency cap);
// rejected records (4xx) are reported failed with NetSuite's error code, transient failures are
// retried by the client. Canonical fields go back through the stream's mapping to SuiteQL
// columns, then to the REST body's camelCase field ids and `{"id"}` references
// (netsuite-rest-fields.ts, WIRE.md "Record upsert"). A bearer token is refreshed after a 401
// through the same hook as the extraction (`deps.options.refreshAuth`). Used by the apply step.
import type { Entity } from '../../../staging/model/entities.js';
import type { Logger } from '../../log/logger.js';
import type { WriterOptions } from '../contract.js';
import { ApiClient, ApiError, mergeLimits } from '../http/api-client.js';
import { refreshableToken } from '../http/refreshable-token.js';
import { type TenantEntityMapping, tenantEntityMapping } from '../map-record.js';
import { type NetsuiteSystemConfig, netsuiteResolvedConfig } from './config.js';
import { accountFacts } from './netsuite-account.js';
import { netsuiteStreamSpec, SUITEQL_COLUMN } from './netsuite-mapping.js';
import { bearerSigner, netsuitePolicy, oauth1Signer } from './netsuite-policy.js';
import { suiteqlRows } from './netsuite-reader.js';
import {
  REST_RECORDS,
  type RestLookups,
  restField,
  restValue,
  STREAM_OF_ENTITY,
} from './netsuite-rest-fields.js';

export interface NetsuiteWriteOutcome {
  written: { externalId: string; location: string | null; internalId: string | null }[];
  failed: { externalId: string; message: string; code: string }[];
}

const EXTERNAL_ID = /^[A-Za-z0-9_.:-]{1,255}$/;

/** A record to PUT, or the reason it cannot be sent (a column without a body field, an unknown reference). */
export type NetsuitePut =
  | { externalId: string; body: Record<string, unknown> }
  | { externalId: string; error: { code: string; message: string } };

export async function netsuiteUpsert(
  client: ApiClient,
  recordType: string,
  records: readonly NetsuitePut[],
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
      if ('error' in r) {
        out.failed.push({ externalId: r.externalId, ...r.error });
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

/** Canonical fields → SuiteQL column values through the inverse of the stream mapping. */
export function toNetsuiteColumns(
  entity: Entity,
  config: NetsuiteSystemConfig,
  fields: Record<string, unknown>,
  tenant: TenantEntityMapping = {},
): Record<string, unknown> {
  const stream = STREAM_OF_ENTITY[entity];
  if (!stream) return {};
  const spec = netsuiteStreamSpec(stream, config, tenant);
  const columns: Record<string, unknown> = {};
  for (const [canonical, column] of Object.entries(spec.mapping.fields)) {
    if (canonical === 'crm_ref' || canonical === 'erp_ref' || !(canonical in fields)) continue;
    const v = fields[canonical];
    const reverse = Object.entries(spec.mapping.valueMaps?.[canonical] ?? {}).find(
      ([, to]) => to === String(v),
    )?.[0];
    columns[column] = reverse ?? v;
  }
  return columns;
}

/** SuiteQL column values → the REST body of `entity`'s record type, or why it cannot be written. */
export function toRestBody(
  entity: Entity,
  columns: Record<string, unknown>,
  lookups: RestLookups,
): { body: Record<string, unknown> } | { error: { code: string; message: string } } {
  const stream = STREAM_OF_ENTITY[entity];
  if (!stream)
    return { error: { code: 'NOT_WRITABLE', message: `netsuite has no record type for ${entity}` } };
  const record = REST_RECORDS[stream];
  const body: Record<string, unknown> = {};
  const computed: string[] = [];
  for (const [column, v] of Object.entries(columns)) {
    const field = restField(record, column);
    if (!field) {
      computed.push(column);
      continue;
    }
    const value = restValue(field.kind, v, lookups);
    if ('error' in value)
      return {
        error: { code: value.code, message: `${record.type}.${field.field}: ${value.error}` },
      };
    body[field.field] = value.value;
  }
  if (computed.length)
    return {
      error: {
        code: 'NOT_WRITABLE',
        message: `${record.type}: ${computed.join(', ')} ${computed.length > 1 ? 'have' : 'has'} no REST body field (computed or on a sublist); nothing was written`,
      },
    };
  return { body };
}

const termLists = new WeakMap<ApiClient, Promise<ReadonlyMap<string, string>>>();

/** The account's terms (name → id), read once per client. */
function terms(client: ApiClient): Promise<ReadonlyMap<string, string>> {
  let list = termLists.get(client);
  if (!list) {
    list = (async () => {
      // Checked and paged as the write-back's reads are: a bad page is re-read, never "no terms".
      const rows = await suiteqlRows(client, 'SELECT id, name FROM term', 'payment terms');
      return new Map(
        rows.filter((t) => t.id != null && t.name != null).map((t) => [String(t.name), String(t.id)]),
      );
    })();
    list.catch(() => termLists.delete(client));
    termLists.set(client, list);
  }
  return list;
}

async function lookups(client: ApiClient, needTerms: boolean): Promise<RestLookups> {
  const facts = await accountFacts(client);
  const byIso = new Map([...facts.currencies].map(([id, iso]) => [iso, id]));
  const termIds = needTerms ? await terms(client) : new Map<string, string>();
  return { currencyId: (iso) => byIso.get(iso), termId: (name) => termIds.get(name) };
}

export function createNetsuiteWriter(
  deps: { logger: Logger; options?: { refreshAuth?: () => Promise<string | undefined> } },
  tenant: string,
  systemName: string,
  systemConfig: unknown,
  opts: WriterOptions = {},
) {
  const config = netsuiteResolvedConfig.parse(systemConfig);
  const bearer = refreshableToken(config.accessToken ?? '', deps.options?.refreshAuth);
  const client = new ApiClient({
    baseUrl: config.baseUrl,
    policy: netsuitePolicy({
      signer: config.oauth1 ? oauth1Signer(config.oauth1) : bearerSigner(bearer.token),
      ...(bearer.refreshAuth && !config.oauth1 ? { refreshAuth: bearer.refreshAuth } : {}),
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
      const stream = STREAM_OF_ENTITY[entity];
      if (!stream) throw new Error(`netsuite has no record type for ${entity}`);
      const tenantMapping = tenantEntityMapping(opts.entities, entity, systemName, SUITEQL_COLUMN);
      const columns = records.map((r) => toNetsuiteColumns(entity, config, r.fields, tenantMapping));
      const refs = await lookups(
        client,
        columns.some((c) => restField(REST_RECORDS[stream], 'terms') && 'terms' in c),
      );
      return netsuiteUpsert(
        client,
        REST_RECORDS[stream].type,
        records.map((r, i) => ({ externalId: r.externalId, ...toRestBody(entity, columns[i]!, refs) })),
      );
    },
    close: () => client.close(),
  };
}

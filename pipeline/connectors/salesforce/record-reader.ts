// What the write-back step asks of Salesforce besides the composite upsert (docs/apply.md): the
// records as they are now, read one by one by their external id
// (GET sobjects/{SObject}/{ExternalIdField}/{value}?fields=…, 404 NOT_FOUND when there is none, a
// deleted record included) and mapped exactly as the Bulk extraction maps them, so their
// SystemModstamp is the staging version reconciliation saw; and which canonical fields the
// writer cannot write (not mapped to a field of the SObject). The answer is checked before it is
// read (recordBody): a 200 that is not the record asked for — no `Id`, a requested field missing,
// another object's record — is transient (re-read, then the read fails), and only Salesforce's
// own NOT_FOUND 404 means "no record": a 404 from anything else (a proxy, an HTML page) is an
// error, never an absent record the write-back would create again.
import { z } from 'zod';
import type { Entity } from '../../../staging/model/entities.js';
import type { ConnectorWriter, CurrentRecord, SystemHandle, WriterOptions } from '../contract.js';
import { ApiClient, ApiError, mergeLimits } from '../http/api-client.js';
import type { SalesforceSystemConfig } from './config.js';
import { compileRowMapper, type ObjectMapping, selectFields } from './mapping.js';
import { salesforceMappings, salesforcePolicy } from './streams.js';
import { COMPOSITE_LIMIT } from './writer.js';

/** A JSON value of the REST API as the Bulk CSV spells it ("" for null). */
function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/**
 * The body of GET sobjects/{SObject}/{ExternalIdField}/{value}?fields=…: the record's `attributes`
 * naming the SObject, a non-empty `Id`, every field asked for (Salesforce sends each one, null
 * when empty), and — when it is among them — the external id the record was read by. Its own schema: no capture reader reads single records.
 */
export function recordBody(
  sobject: string,
  fields: readonly string[],
  key?: { field: string; value: string },
) {
  return z
    .object({ attributes: z.object({ type: z.literal(sobject) }).loose(), Id: z.string().min(1) })
    .loose()
    .superRefine((r, ctx) => {
      // The external id, when asked for, is the one the record was read by (not another record).
      if (
        key &&
        fields.includes(key.field) &&
        Object.hasOwn(r, key.field) &&
        String(r[key.field]) !== key.value
      )
        ctx.addIssue({
          code: 'custom',
          path: [key.field],
          message: `is ${JSON.stringify(r[key.field])}, not the external id asked for`,
        });
      // A relationship path (Owner.Email) comes back as its relationship's object (or null).
      const missing = fields.filter((f) => !Object.hasOwn(r, f.split('.')[0]!));
      if (missing.length)
        ctx.addIssue({
          code: 'custom',
          path: [missing[0]!],
          message: `${missing.length} requested field(s) missing (${missing.slice(0, 3).join(', ')})`,
        });
    });
}

/** `writer` with reads, the fields it cannot write and Salesforce's batch size (200 per composite call). */
export function withSalesforceReads(
  writer: ConnectorWriter,
  sys: SystemHandle<SalesforceSystemConfig>,
  opts: WriterOptions = {},
): ConnectorWriter {
  const { config, tenant, system } = sys;
  const mappings = salesforceMappings(sys, opts.entities);
  let api: ApiClient | undefined;
  const client = () => {
    api ??= new ApiClient({
      baseUrl: config.baseUrl,
      policy: salesforcePolicy(sys),
      limits: mergeLimits(config.limits, opts.limits),
      tenant,
      system,
      logger: sys.logger.child({ role: 'writer-reads' }),
    });
    return api;
  };
  const mappingOf = (entity: Entity): ObjectMapping | undefined => mappings.find((m) => m.entity === entity);

  async function readOne(m: ObjectMapping, key: string): Promise<CurrentRecord> {
    const header = selectFields(m);
    const none: CurrentRecord = {
      key,
      found: false,
      id: null,
      fields: {},
      version: null,
      sourceUpdatedAt: null,
    };
    let body: Record<string, unknown>;
    try {
      body = await client().json<Record<string, unknown>>(
        'GET',
        `/services/data/v${config.apiVersion}/sobjects/${encodeURIComponent(m.sobject)}/${encodeURIComponent(m.externalIdField)}/${encodeURIComponent(key)}`,
        {
          query: { fields: header.join(',') },
          schema: recordBody(m.sobject, header, { field: m.externalIdField, value: key }),
          about: `current ${m.sobject} (${m.entity}) ${key}`,
        },
      );
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && err.code === 'NOT_FOUND') return none;
      throw err;
    }
    const change = compileRowMapper(m, header)(header.map((h) => cell(body[h])));
    if (change.op !== 'upsert') return none;
    return {
      key,
      found: true,
      id: change.sourceId,
      fields: change.fields ?? {},
      version: change.version,
      sourceUpdatedAt: change.sourceUpdatedAt ?? null,
    };
  }

  return {
    ...writer,
    batchLimit: COMPOSITE_LIMIT,
    upsert: (entity, records, batch) => writer.upsert(entity, records, batch),
    async read(entity, refs) {
      const m = mappingOf(entity);
      if (!m)
        throw new Error(`tenant ${tenant}, system ${system}: no Salesforce object is mapped to ${entity}`);
      return Promise.all(refs.map((r) => readOne(m, r.key)));
    },
    unwritable(entity, fields) {
      const m = mappingOf(entity);
      return fields.flatMap((field) => {
        // The link fields are the record's Id and the key the upsert goes by.
        if (field === 'crm_ref' || field === 'erp_ref') return [];
        if (!m) return [{ field, reason: `has no Salesforce object (no object is mapped to ${entity})` }];
        const target = m.fields[field];
        if (!target) return [{ field, reason: `is not mapped to a field of ${m.sobject}` }];
        if (target === 'Id' || target === m.externalIdField)
          return [{ field, reason: `is ${m.sobject}.${target}, the record's identity` }];
        return [];
      });
    },
    async close() {
      await writer.close();
      await api?.close();
    },
  };
}

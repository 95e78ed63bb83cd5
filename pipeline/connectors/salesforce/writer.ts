// The Salesforce corrective writer: upserts by external id through the composite sObject
// collections endpoint (PATCH composite/sobjects/{SObject}/{ExternalIdField}), at most 200
// records per request, allOrNone false by default, and one result per record in input order
// (success, id, created, or the errors Salesforce gave: DUPLICATE_VALUE, REQUIRED_FIELD_MISSING,
// INVALID_FIELD, …). Upsert by external id is idempotent, so a retried request is harmless.
import type { Entity } from '../../../staging/model/entities.js';
import type { Logger } from '../../log/logger.js';
import type { ClientLimits } from '../http/api-client.js';
import { ApiClient } from '../http/api-client.js';
import { type TenantEntities, tenantEntityMapping } from '../map-record.js';
import { type SalesforceSystemConfig, salesforceResolvedConfig } from './config.js';
import { type ObjectMapping, resolveMappings, SALESFORCE_FIELD, toSalesforceFields } from './mapping.js';
import { SalesforcePolicy } from './policy.js';

export const COMPOSITE_LIMIT = 200;

export interface UpsertError {
  statusCode: string;
  message: string;
  fields: string[];
}

export interface UpsertResult {
  externalId: string;
  success: boolean;
  id: string | null;
  created: boolean | null;
  errors: UpsertError[];
}

/** A record in canonical fields, keyed by the value of the object's external id field. */
export interface CanonicalUpsert {
  externalId: string;
  fields: Record<string, unknown>;
}

export class SalesforceWriter {
  constructor(
    private readonly api: ApiClient,
    private readonly apiVersion: string,
    private readonly mappings: readonly ObjectMapping[],
  ) {}

  /** A writer for one tenant's system, with its own client (rate limit, retries, auth refresh). */
  static open(opts: {
    tenant: string;
    system: string;
    systemConfig: unknown;
    logger: Logger;
    limits?: Partial<ClientLimits>;
    refreshToken?: () => Promise<string>;
    mappings?: readonly ObjectMapping[];
    /** The tenant's entity configs: the same mapping overrides the extraction reads. */
    entities?: TenantEntities;
  }): SalesforceWriter {
    const config: SalesforceSystemConfig = salesforceResolvedConfig.parse(opts.systemConfig);
    const api = new ApiClient({
      baseUrl: config.baseUrl,
      policy: new SalesforcePolicy(config.accessToken, opts.refreshToken),
      limits: { ...config.limits, ...opts.limits },
      tenant: opts.tenant,
      system: opts.system,
      logger: opts.logger.child({
        tenant: opts.tenant,
        system: opts.system,
        connector: 'salesforce',
        role: 'writer',
      }),
    });
    const mappings =
      opts.mappings ??
      resolveMappings({
        role: config.role,
        ...(config.objects ? { objects: config.objects } : {}),
        entityOverrides: (entity) =>
          tenantEntityMapping(opts.entities, entity, opts.system, SALESFORCE_FIELD),
      });
    return new SalesforceWriter(api, config.apiVersion, mappings);
  }

  mappingFor(entity: Entity): ObjectMapping {
    const m = this.mappings.find((x) => x.entity === entity);
    if (!m) throw new Error(`no Salesforce object is mapped to ${entity}`);
    return m;
  }

  /** Upserts canonical records of an entity into its (first) mapped SObject by its external id field. */
  upsertCanonical(entity: Entity, records: readonly CanonicalUpsert[], opts: { allOrNone?: boolean } = {}) {
    const m = this.mappingFor(entity);
    return this.upsert(
      m.sobject,
      m.externalIdField,
      records.map((r) => ({ externalId: r.externalId, fields: toSalesforceFields(m, r.fields) })),
      opts,
    );
  }

  /** Upserts records given in Salesforce field names. Results are in input order. */
  async upsert(
    sobject: string,
    externalIdField: string,
    records: readonly { externalId: string; fields: Record<string, unknown> }[],
    opts: { allOrNone?: boolean } = {},
  ): Promise<UpsertResult[]> {
    const out: UpsertResult[] = [];
    for (let i = 0; i < records.length; i += COMPOSITE_LIMIT) {
      const batch = records.slice(i, i + COMPOSITE_LIMIT);
      const results = await this.api.json<
        { id?: string | null; success: boolean; created?: boolean; errors?: Partial<UpsertError>[] }[]
      >(
        'PATCH',
        `/services/data/v${this.apiVersion}/composite/sobjects/${encodeURIComponent(sobject)}/${encodeURIComponent(externalIdField)}`,
        {
          body: {
            allOrNone: opts.allOrNone ?? false,
            records: batch.map((r) => ({
              attributes: { type: sobject },
              ...r.fields,
              [externalIdField]: r.externalId,
            })),
          },
        },
      );
      if (!Array.isArray(results) || results.length !== batch.length)
        throw new Error(
          `salesforce composite upsert of ${sobject}: expected ${batch.length} results, got ${Array.isArray(results) ? results.length : typeof results}`,
        );
      for (const [k, r] of results.entries())
        out.push({
          externalId: batch[k]!.externalId,
          success: r.success === true,
          id: r.id ?? null,
          created: r.success ? (r.created ?? null) : null,
          errors: (r.errors ?? []).map((e) => ({
            statusCode: e.statusCode ?? 'UNKNOWN',
            message: e.message ?? '',
            fields: e.fields ?? [],
          })),
        });
    }
    return out;
  }

  close(): Promise<void> {
    return this.api.close();
  }
}

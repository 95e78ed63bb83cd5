// The Salesforce corrective writer: upserts by external id through the composite sObject
// collections endpoint (PATCH composite/sobjects/{SObject}/{ExternalIdField}), at most 200
// records per request, allOrNone false by default, and one result per record in input order
// (success, id, created, or the errors Salesforce gave: DUPLICATE_VALUE, REQUIRED_FIELD_MISSING,
// INVALID_FIELD, …). Upsert by external id is idempotent, so a retried request is harmless.
// WIRE.md "Composite upsert": the key field must be marked External ID — checked once per SObject
// through describe before anything is sent (SalesforceWriterConfigError names tenant, system and
// field) — and a malformed call is one 400 for the whole call: every record of that call is
// reported failed with Salesforce's code, and the next call goes on. A 401 refreshes the token
// through `refreshToken` or the run's hook (`refreshAuth`).
import type { Entity } from '../../../staging/model/entities.js';
import { TrueupError } from '../../../staging/model/errors.js';
import type { Logger } from '../../log/logger.js';
import type { ClientLimits } from '../http/api-client.js';
import { ApiClient, ApiError } from '../http/api-client.js';
import { refreshableToken } from '../http/refreshable-token.js';
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

/** The writer's configuration cannot work with this org (a key field that is not an External ID). */
export class SalesforceWriterConfigError extends TrueupError {
  override name = 'SalesforceWriterConfigError';
}

export class SalesforceWriter {
  /** Per SObject, its fields' External ID flags (describe), asked once. */
  private readonly described = new Map<string, Promise<ReadonlyMap<string, boolean>>>();

  constructor(
    private readonly api: ApiClient,
    private readonly apiVersion: string,
    private readonly mappings: readonly ObjectMapping[],
    private readonly scope: { tenant: string; system: string } = { tenant: '', system: '' },
  ) {}

  /** A writer for one tenant's system, with its own client (rate limit, retries, auth refresh). */
  static open(opts: {
    tenant: string;
    system: string;
    systemConfig: unknown;
    logger: Logger;
    limits?: Partial<ClientLimits>;
    refreshToken?: () => Promise<string>;
    /** The run's refresh hook (SyncOptions.refreshAuth), when no refreshToken is given. */
    refreshAuth?: () => Promise<string | undefined>;
    mappings?: readonly ObjectMapping[];
    /** The tenant's entity configs: the same mapping overrides the extraction reads. */
    entities?: TenantEntities;
  }): SalesforceWriter {
    const config: SalesforceSystemConfig = salesforceResolvedConfig.parse(opts.systemConfig);
    const token = refreshableToken(config.accessToken, opts.refreshAuth);
    const refresh =
      opts.refreshToken ??
      (token.refreshAuth &&
        (async () => {
          await token.refreshAuth!();
          return token.token();
        }));
    const api = new ApiClient({
      baseUrl: config.baseUrl,
      policy: new SalesforcePolicy(config.accessToken, refresh),
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
    return new SalesforceWriter(api, config.apiVersion, mappings, {
      tenant: opts.tenant,
      system: opts.system,
    });
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
    if (records.length) await this.checkExternalId(sobject, externalIdField);
    for (let i = 0; i < records.length; i += COMPOSITE_LIMIT) {
      const batch = records.slice(i, i + COMPOSITE_LIMIT);
      let results: {
        id?: string | null;
        success: boolean;
        created?: boolean;
        errors?: Partial<UpsertError>[];
      }[];
      try {
        results = await this.api.json(
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
      } catch (err) {
        // A malformed call (a field the object lacks) is one 400 for all of its records.
        if (!(err instanceof ApiError) || err.status !== 400) throw err;
        const error = { statusCode: err.code ?? 'HTTP_400', message: err.message, fields: [] };
        for (const r of batch)
          out.push({ externalId: r.externalId, success: false, id: null, created: null, errors: [error] });
        continue;
      }
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

  /**
   * Fails before any write when `field` is not an External ID field of `sobject` (describe, asked
   * once per SObject): every call would be refused, and the message says what to change.
   */
  private async checkExternalId(sobject: string, field: string): Promise<void> {
    let flags = this.described.get(sobject);
    if (!flags) {
      flags = this.api
        .json<{ fields?: { name: string; externalId?: boolean }[] }>(
          'GET',
          `/services/data/v${this.apiVersion}/sobjects/${encodeURIComponent(sobject)}/describe`,
        )
        .then((d) => new Map((d?.fields ?? []).map((f) => [f.name, f.externalId === true])));
      flags.catch(() => this.described.delete(sobject));
      this.described.set(sobject, flags);
    }
    const externalId = (await flags).get(field);
    if (externalId === true) return;
    const { tenant, system } = this.scope;
    throw new SalesforceWriterConfigError(
      `tenant ${tenant}, system ${system}: ${sobject}.${field} ${externalId === undefined ? 'does not exist' : 'is not an External ID field'}; ` +
        `composite upsert needs a field marked External ID (set objects.${sobject}.externalIdField, or mark the field External ID in Salesforce Setup)`,
      { subject: { tenant, system, field } },
    );
  }

  close(): Promise<void> {
    return this.api.close();
  }
}

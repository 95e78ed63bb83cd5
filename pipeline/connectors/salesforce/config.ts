// Config of a `salesforce` system (Bulk API 2.0 extraction, composite upsert write-back): base URL,
// API version, token (a reference), client limits, which SObjects to extract as which canonical
// entity (`objects: { Account: customer, Opportunity: { entity: order, fields: {…} } }`), and bulk
// settings. Field overrides per entity live under `tenants.<t>.entities.<entity>.mapping.<system>`
// ({fields, valueMaps}); overrides given on an object here win over them.
import { z } from 'zod';
import { ENTITIES } from '../../../staging/model/entities.js';
import { baseUrl, clientLimits, secretRef } from '../connector-config.js';

const SOBJECT = /^[A-Za-z][A-Za-z0-9_]{0,79}$/;
const FIELD = /^[A-Za-z][A-Za-z0-9_]{0,79}$/;

const fieldMap = z.record(
  z.string(),
  z.union([
    z.string().regex(FIELD, 'expected a Salesforce field API name such as "Tax_Id__c"'),
    // "" unmaps a default field (an org without CurrencyIsoCode, say).
    z.literal(''),
  ]),
);

export const salesforceObjectConfig = z.union([
  z.enum(ENTITIES),
  z.strictObject({
    entity: z.enum(ENTITIES),
    /** canonical field ← Salesforce field; merged over the default mapping. */
    fields: fieldMap.optional(),
    valueMaps: z.record(z.string(), z.record(z.string(), z.string())).optional(),
    /** External id field used by the composite upsert writer (default ERP_Id__c / CRM_Id__c). */
    externalIdField: z.string().regex(FIELD).optional(),
  }),
]);

export const salesforceSystemConfig = z.looseObject({
  kind: z.literal('salesforce'),
  role: z.enum(['crm', 'erp']),
  baseUrl: baseUrl(),
  apiVersion: z
    .string()
    .regex(/^\d+\.\d$/, 'expected an API version such as "60.0"')
    .default('60.0'),
  accessToken: secretRef(),
  limits: clientLimits,
  /** SObject API name → entity. Default: Account, Product2, Order, Invoice__c. */
  objects: z
    .record(
      z.string().regex(SOBJECT, 'expected an SObject API name such as "Account"'),
      salesforceObjectConfig,
    )
    .optional(),
  bulk: z
    .strictObject({
      /** Rows per result chunk (`maxRecords`). */
      maxRecords: z.number().int().min(1).max(1_000_000).default(50_000),
      /** Rows per staging transaction (each carries its checkpoint). */
      batchSize: z.number().int().min(1).max(200_000).default(10_000),
      pollMinMs: z.number().int().min(1).default(1_000),
      pollMaxMs: z.number().int().min(1).default(20_000),
      /** A job not complete after this long is abandoned (stream state `failed`, resumed next run). */
      jobTimeoutMs: z.number().int().min(1).default(3_600_000),
      /**
       * Incremental windows end this many seconds before now: a record whose transaction
       * commits late with an older SystemModstamp is still caught by the next window.
       */
      lagSeconds: z.number().int().min(0).default(30),
    })
    .prefault({}),
});
export type SalesforceSystemConfig = z.infer<typeof salesforceSystemConfig>;

/** The same after secret resolution (what the loaded config holds): the token is the value itself. */
export const salesforceResolvedConfig = salesforceSystemConfig.extend({ accessToken: z.string().min(1) });
export type SalesforceObjectConfig = z.infer<typeof salesforceObjectConfig>;

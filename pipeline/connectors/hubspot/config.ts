// Config of a `hubspot` system (CRM v3 objects): which object types to extract, page sizes, the
// search-result cap, the overlap applied when a full load hands over to incremental search, and
// per-object mapping overrides.
import { z } from 'zod';
import { baseUrl, clientLimits, mappingOverrides, secretRef } from '../connector-config.js';

export const HUBSPOT_OBJECT_TYPES = ['companies', 'contacts', 'products', 'deals', 'invoices'] as const;
export type HubspotObjectType = (typeof HUBSPOT_OBJECT_TYPES)[number];

/** The canonical entity each object type feeds (hubspot-mapping.ts holds the rest of its mapping). */
export const HUBSPOT_OBJECT_ENTITY = {
  companies: 'customer',
  contacts: 'customer',
  products: 'product',
  deals: 'order',
  invoices: 'invoice',
} as const satisfies Record<HubspotObjectType, string>;

/**
 * The reference fields an association may fill, per entity, with the entity they refer to: the
 * single-valued references of reconcilers/compare/reference-fields.ts (a connector does not import
 * the reconcilers; test/connectors/hubspot/associations-config.test.ts keeps the two equal).
 */
export const ASSOCIABLE_REFERENCES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  order: { customer_ref: 'customer' },
  invoice: { customer_ref: 'customer', order_ref: 'order' },
};

/**
 * `associations.<objectType>.<referenceField>: <toObjectType>`: the reference is read from the
 * record's associations with that object type (CRM v4 batch read), not from a property.
 */
const associations = z
  .partialRecord(z.enum(HUBSPOT_OBJECT_TYPES), z.record(z.string(), z.enum(HUBSPOT_OBJECT_TYPES)))
  .default({})
  .superRefine((all, ctx) => {
    for (const [from, fields] of Object.entries(all) as [HubspotObjectType, Record<string, string>][]) {
      const entity = HUBSPOT_OBJECT_ENTITY[from];
      const refs = ASSOCIABLE_REFERENCES[entity] ?? {};
      for (const [field, to] of Object.entries(fields ?? {})) {
        const target = refs[field];
        if (!target) {
          const known = Object.keys(refs);
          ctx.addIssue({
            code: 'custom',
            path: [from, field],
            message: `${field} is not a reference field of ${entity} that an association can fill (${
              known.length ? known.join(', ') : `${entity} has none`
            })`,
          });
        } else if (HUBSPOT_OBJECT_ENTITY[to as HubspotObjectType] !== target)
          ctx.addIssue({
            code: 'custom',
            path: [from, field],
            message: `${field} refers to a ${target}, but HubSpot ${to} are ${HUBSPOT_OBJECT_ENTITY[to as HubspotObjectType]} records`,
          });
      }
    }
  });

export const hubspotSystemConfig = z.looseObject({
  kind: z.literal('hubspot'),
  role: z.enum(['crm', 'erp']),
  baseUrl: baseUrl().default('https://api.hubapi.com'),
  accessToken: secretRef(),
  limits: clientLimits,
  /** Object types to extract; each maps to one canonical entity (hubspot-mapping.ts). */
  objects: z
    .array(z.enum(HUBSPOT_OBJECT_TYPES))
    .min(1)
    .default(['companies', 'products', 'deals', 'invoices']),
  /** Page size of the list endpoint (HubSpot allows at most 100). */
  listPageSize: z.number().int().min(1).max(100).default(100),
  /** Page size of the search endpoint (HubSpot allows at most 200). */
  searchPageSize: z.number().int().min(1).max(200).default(200),
  /** Search cannot page past this many results (the extractor pages by stamp and never reaches it; kept for old configs). */
  searchResultCap: z.number().int().min(1).default(10_000),
  /**
   * Clock and search-index safety: the first incremental search begins this long before the full
   * load's start, and every incremental run re-reads this long before its checkpoint (a record
   * becomes searchable a little after its stamp).
   */
  overlapMs: z.number().int().min(0).default(300_000),
  /** Rows gathered before one staging transaction (a checkpoint per transaction). */
  stageBatchRows: z.number().int().min(1).max(50_000).default(1000),
  /** Property holding the ERP's id on CRM records (direct match key, upsert idProperty). */
  erpIdProperty: z.string().min(1).default('erp_id'),
  /** Per object type: canonical field ← HubSpot property, and value maps. */
  mapping: z.partialRecord(z.enum(HUBSPOT_OBJECT_TYPES), mappingOverrides).default({}),
  /** Per object type: reference field ← the object type it is associated with (docs/connectors.md). */
  associations,
});

/** The same after secret references were resolved (what `runHubspotSync` receives). */
export const hubspotResolvedConfig = hubspotSystemConfig.extend({ accessToken: z.string().min(1) });
export type HubspotSystemConfig = z.infer<typeof hubspotResolvedConfig>;

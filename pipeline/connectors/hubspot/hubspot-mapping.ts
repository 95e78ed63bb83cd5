// Default mapping of HubSpot CRM objects onto canonical entities: which entity an object type
// feeds, which property is its modification stamp, and canonical field ← property. Overrides, in
// order: the tenant's `entities.<entity>.mapping.<system>` (every object type of that entity),
// then the system's `mapping.<objectType>`. The properties requested from the API are exactly
// the mapped ones plus the stamp.
import type { Entity } from '../../../staging/model/entities.js';
import {
  effectiveMapping,
  type FieldMapping,
  type SourceNameRule,
  type TenantEntityMapping,
} from '../map-record.js';
import type { HubspotObjectType, HubspotSystemConfig } from './config.js';

export interface HubspotObjectMapping {
  entity: Entity;
  /** The search property holding the modification stamp (contacts differ). */
  modifiedProperty: string;
  mapping: FieldMapping;
  /** The tenant's entities.<entity>.mappingVersion, stamped on staged rows. */
  mappingVersion?: number;
  /** Reference fields read from associations: field → the associated object type (config `associations`). */
  associations?: Readonly<Record<string, HubspotObjectType>>;
}

/** HubSpot property names (they go into the `properties` list of every request). */
export const HUBSPOT_PROPERTY: SourceNameRule = {
  pattern: /^[A-Za-z][A-Za-z0-9_]*$/,
  expected: 'a HubSpot property name',
};

const DEFAULTS: Readonly<Record<HubspotObjectType, HubspotObjectMapping>> = {
  companies: {
    entity: 'customer',
    modifiedProperty: 'hs_lastmodifieddate',
    mapping: {
      fields: {
        name: 'name',
        website: 'domain',
        phone: 'phone',
        billing_street: 'address',
        billing_city: 'city',
        billing_postal_code: 'zip',
        billing_country: 'country',
        owner: 'hubspot_owner_id',
        lifecycle_stage: 'lifecyclestage',
      },
    },
  },
  contacts: {
    entity: 'customer',
    modifiedProperty: 'lastmodifieddate',
    mapping: {
      fields: { name: 'company', email: 'email', phone: 'phone', lifecycle_stage: 'lifecyclestage' },
    },
  },
  products: {
    entity: 'product',
    modifiedProperty: 'hs_lastmodifieddate',
    mapping: {
      fields: { sku: 'hs_sku', name: 'name', list_price: 'price', currency: 'hs_price_currency' },
    },
  },
  deals: {
    entity: 'order',
    modifiedProperty: 'hs_lastmodifieddate',
    mapping: {
      fields: {
        number: 'dealname',
        order_date: 'closedate',
        status: 'dealstage',
        currency: 'deal_currency_code',
        amount_total: 'amount',
      },
    },
  },
  invoices: {
    entity: 'invoice',
    modifiedProperty: 'hs_lastmodifieddate',
    mapping: {
      fields: {
        number: 'hs_number',
        issue_date: 'hs_invoice_date',
        due_date: 'hs_due_date',
        currency: 'hs_currency',
        total: 'hs_amount_billed',
        balance: 'hs_balance_due',
        status: 'hs_invoice_status',
      },
      valueMaps: { status: { draft: 'draft', open: 'open', paid: 'paid', voided: 'void' } },
    },
  },
};

/** The default entity of an object type. */
export function hubspotEntity(type: HubspotObjectType): Entity {
  return DEFAULTS[type].entity;
}

/**
 * The effective mapping of one object type for one system: defaults, the tenant's entity
 * overrides, the system's object overrides, and the link field. Throws MappingConfigError.
 */
export function hubspotObjectMapping(
  type: HubspotObjectType,
  config: HubspotSystemConfig,
  tenant: TenantEntityMapping = {},
): HubspotObjectMapping {
  const { mapping: defaults, ...base } = DEFAULTS[type];
  // The other system's id lives in a custom property; our own id is the record id (set by the extractor).
  const otherLink = config.role === 'crm' ? 'erp_ref' : 'crm_ref';
  const mapping = effectiveMapping(
    base.entity,
    { ...defaults, fields: { [otherLink]: config.erpIdProperty, ...defaults.fields } },
    tenant,
    config.mapping[type],
    `${type} → ${base.entity}`,
    HUBSPOT_PROPERTY,
  );
  // An association wins over a property mapping of the same field: the reference is not a property.
  const associations = { ...config.associations?.[type] } as Record<string, HubspotObjectType>;
  const fields = { ...mapping.fields };
  for (const field of Object.keys(associations)) delete fields[field];
  return {
    ...base,
    mapping: { ...mapping, fields },
    ...(tenant.mappingVersion ? { mappingVersion: tenant.mappingVersion } : {}),
    ...(Object.keys(associations).length ? { associations } : {}),
  };
}

/** Properties to request: every mapped property and the stamp. */
export function hubspotProperties(m: HubspotObjectMapping): string[] {
  return [...new Set([...Object.values(m.mapping.fields), m.modifiedProperty, 'hs_object_id'])];
}

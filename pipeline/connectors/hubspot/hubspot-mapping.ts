// Default mapping of HubSpot CRM objects onto canonical entities: which entity an object type
// feeds, which property is its modification stamp, and canonical field ← property. Tenants
// override fields per object type in config (`mapping.<objectType>`). The properties requested
// from the API are exactly the mapped ones plus the stamp.
import type { Entity } from '../../../staging/model/entities.js';
import { type FieldMapping, mergeMapping } from '../map-record.js';
import type { HubspotObjectType, HubspotSystemConfig } from './config.js';

export interface HubspotObjectMapping {
  entity: Entity;
  /** The search property holding the modification stamp (contacts differ). */
  modifiedProperty: string;
  mapping: FieldMapping;
}

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

/** The effective mapping of one object type for one system (defaults + overrides + link fields). */
export function hubspotObjectMapping(
  type: HubspotObjectType,
  config: HubspotSystemConfig,
): HubspotObjectMapping {
  const base = DEFAULTS[type];
  const merged = mergeMapping(base.mapping, config.mapping[type]);
  // The other system's id lives in a custom property; our own id is the record id (set by the extractor).
  const otherLink = config.role === 'crm' ? 'erp_ref' : 'crm_ref';
  return {
    ...base,
    mapping: { ...merged, fields: { [otherLink]: config.erpIdProperty, ...merged.fields } },
  };
}

/** Properties to request: every mapped property and the stamp. */
export function hubspotProperties(m: HubspotObjectMapping): string[] {
  return [...new Set([...Object.values(m.mapping.fields), m.modifiedProperty, 'hs_object_id'])];
}

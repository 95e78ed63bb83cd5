// Salesforce ↔ canonical mapping: the default SObject → entity field maps, the merge of tenant
// overrides over them, and the conversion of one Bulk CSV row into a canonical Change.
// Bulk CSV cannot tell null from "": an empty cell is staged as null (reconcile's
// nullEquivalents treat "" and null alike on the other side).
import type { Change } from '../../../staging/model/change.js';
import { ENTITY_FIELDS, type Entity, type FieldType } from '../../../staging/model/entities.js';
import { TrueupError } from '../../../staging/model/errors.js';
import {
  csvRawRecord,
  effectiveMapping,
  mappedValue,
  msToVersion,
  recordChange,
  type SourceNameRule,
  type TenantEntityMapping,
} from '../map-record.js';
import type { SalesforceObjectConfig } from './config.js';

export { MappingConfigError } from '../map-record.js';

export interface ObjectMapping {
  sobject: string;
  entity: Entity;
  /** canonical field ← Salesforce field. */
  fields: Readonly<Record<string, string>>;
  /** canonical field → (Salesforce value → canonical value). */
  valueMaps: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** The field holding the other system's id; the writer upserts by it. */
  externalIdField: string;
  mappingVersion?: number;
}

/** Fields every extraction selects besides the mapped ones. */
export const SYSTEM_FIELDS = ['Id', 'SystemModstamp', 'IsDeleted'] as const;

const INVOICE_STATUS = {
  Draft: 'draft',
  Open: 'open',
  'Partially Paid': 'partially_paid',
  Paid: 'paid',
  Void: 'void',
};

/** Default maps, written from the CRM side; standard fields plus the external id and Invoice__c. */
export const DEFAULT_OBJECTS: Readonly<
  Record<string, { entity: Entity; fields: Record<string, string>; valueMaps?: ObjectMapping['valueMaps'] }>
> = {
  Account: {
    entity: 'customer',
    fields: {
      name: 'Name',
      website: 'Website',
      phone: 'Phone',
      billing_street: 'BillingStreet',
      billing_city: 'BillingCity',
      billing_postal_code: 'BillingPostalCode',
      billing_country: 'BillingCountry',
      owner: 'OwnerId',
      lifecycle_stage: 'Type',
      erp_customer_number: 'AccountNumber',
      currency: 'CurrencyIsoCode',
    },
  },
  Product2: {
    entity: 'product',
    fields: {
      sku: 'ProductCode',
      name: 'Name',
      type: 'Family',
      uom: 'QuantityUnitOfMeasure',
      active: 'IsActive',
      currency: 'CurrencyIsoCode',
    },
  },
  Order: {
    entity: 'order',
    fields: {
      number: 'OrderNumber',
      customer_ref: 'AccountId',
      order_date: 'EffectiveDate',
      status: 'Status',
      currency: 'CurrencyIsoCode',
      amount_total: 'TotalAmount',
    },
  },
  Opportunity: {
    entity: 'order',
    fields: {
      number: 'Name',
      customer_ref: 'AccountId',
      order_date: 'CloseDate',
      status: 'StageName',
      currency: 'CurrencyIsoCode',
      amount_total: 'Amount',
    },
  },
  Invoice__c: {
    entity: 'invoice',
    fields: {
      number: 'Name',
      customer_ref: 'Account__c',
      issue_date: 'Issue_Date__c',
      due_date: 'Due_Date__c',
      currency: 'CurrencyIsoCode',
      total: 'Total__c',
      tax: 'Tax__c',
      balance: 'Balance__c',
      status: 'Status__c',
      order_ref: 'Order__c',
    },
    valueMaps: { status: INVOICE_STATUS },
  },
};

/** Extracted when a system names no `objects` (Opportunity is opt-in: it would double the orders). */
export const DEFAULT_OBJECT_NAMES = ['Account', 'Product2', 'Order', 'Invoice__c'] as const;

/** Salesforce field API names: the only source names a mapping may use (they go into SOQL). */
export const SALESFORCE_FIELD: SourceNameRule = {
  pattern: /^[A-Za-z][A-Za-z0-9_]*$/,
  expected: 'a field API name',
};

/**
 * The effective mappings of one system: defaults, then the tenant's entity overrides, then the
 * object's own. Salesforce Id goes to the system's own ref (crm_ref or erp_ref) and the external
 * id field to the other one.
 */
export function resolveMappings(opts: {
  role: 'crm' | 'erp';
  objects?: Readonly<Record<string, SalesforceObjectConfig>>;
  entityOverrides?: (entity: Entity) => TenantEntityMapping;
}): ObjectMapping[] {
  const objects =
    opts.objects ?? Object.fromEntries(DEFAULT_OBJECT_NAMES.map((n) => [n, DEFAULT_OBJECTS[n]!.entity]));
  return Object.entries(objects).map(([sobject, cfg]) => {
    const obj = typeof cfg === 'string' ? { entity: cfg } : cfg;
    const base = DEFAULT_OBJECTS[sobject];
    const entity = obj.entity;
    const ext = obj.externalIdField ?? (opts.role === 'crm' ? 'ERP_Id__c' : 'CRM_Id__c');
    const own = opts.role === 'crm' ? 'crm_ref' : 'erp_ref';
    const other = opts.role === 'crm' ? 'erp_ref' : 'crm_ref';
    const tenant = opts.entityOverrides?.(entity) ?? {};
    const defaults = base && base.entity === entity ? base : undefined;
    const merged = effectiveMapping(
      entity,
      { fields: { [own]: 'Id', [other]: ext, ...defaults?.fields }, valueMaps: defaults?.valueMaps ?? {} },
      tenant,
      obj,
      `${sobject} → ${entity}`,
      SALESFORCE_FIELD,
    );
    return {
      sobject,
      entity,
      fields: merged.fields,
      valueMaps: merged.valueMaps ?? {},
      externalIdField: ext,
      ...(tenant.mappingVersion ? { mappingVersion: tenant.mappingVersion } : {}),
    };
  });
}

/** The SELECT list of an extraction: system fields, then mapped fields, without duplicates. */
export function selectFields(m: ObjectMapping): string[] {
  return [...new Set<string>([...SYSTEM_FIELDS, ...Object.values(m.fields)])];
}

export class RecordMappingError extends TrueupError {
  override name = 'RecordMappingError';
}

/** A compiled row mapper: header positions are resolved once per result chunk, not per row. */
export type RowMapper = (cells: readonly string[]) => Change;

export function compileRowMapper(m: ObjectMapping, header: readonly string[]): RowMapper {
  const pos = new Map(header.map((h, i) => [h, i]));
  const need = (name: string) => {
    const i = pos.get(name);
    if (i === undefined) throw new RecordMappingError(`${m.sobject} result has no column ${name}`);
    return i;
  };
  const idAt = need('Id');
  const stampAt = need('SystemModstamp');
  const deletedAt = need('IsDeleted');
  const types = new Map(ENTITY_FIELDS[m.entity].map((d) => [d.name, d.type]));
  const plan = Object.entries(m.fields).map(([canonical, source]) => ({
    canonical,
    at: need(source),
    type: types.get(canonical)!,
    valueMap: m.valueMaps[canonical],
  }));
  return (cells) => {
    if (cells.length !== header.length)
      throw new RecordMappingError(`row has ${cells.length} cells, the header has ${header.length}`);
    const id = cells[idAt]!;
    if (!id) throw new RecordMappingError('row has no Id');
    const stamp = cells[stampAt]!;
    const ms = Date.parse(stamp);
    if (Number.isNaN(ms))
      throw new RecordMappingError(`${id}: SystemModstamp ${JSON.stringify(stamp)} is not a datetime`);
    const record = {
      sourceId: id,
      version: msToVersion(ms),
      raw: csvRawRecord(header, cells),
      // Salesforce already sends canonical UTC ISO; only other spellings are re-formatted.
      sourceUpdatedAt: stamp.length === 24 && stamp.endsWith('Z') ? stamp : new Date(ms).toISOString(),
    };
    if (cells[deletedAt]!.toLowerCase() === 'true') return recordChange(record, 'delete');
    const fields: Record<string, unknown> = {};
    for (const p of plan) fields[p.canonical] = convert(id, p.canonical, p.type, cells[p.at]!, p.valueMap);
    return recordChange(record, fields, m.mappingVersion);
  };
}

function convert(
  id: string,
  field: string,
  type: FieldType,
  value: string,
  valueMap: Readonly<Record<string, string>> | undefined,
): unknown {
  if (value === '') return null;
  const v = mappedValue(valueMap, value) ?? value;
  switch (type) {
    case 'boolean': {
      const l = v.toLowerCase();
      if (l === 'true') return true;
      if (l === 'false') return false;
      throw new RecordMappingError(`${id}: ${field} ${JSON.stringify(v)} is not a boolean`);
    }
    case 'date':
      // A datetime mapped onto a date keeps its calendar day (UTC).
      return /^\d{4}-\d{2}-\d{2}T/.test(v) ? v.slice(0, 10) : v;
    case 'json':
      try {
        return JSON.parse(v);
      } catch {
        return v;
      }
    default:
      return v;
  }
}

/** The reverse direction for the writer: canonical fields → Salesforce fields (unmapped ones dropped). */
export function toSalesforceFields(
  m: ObjectMapping,
  canonical: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(canonical)) {
    const source = m.fields[field];
    if (!source || source === 'Id' || source === m.externalIdField) continue;
    const map = m.valueMaps[field];
    const back =
      map && typeof value === 'string' ? Object.entries(map).find(([, c]) => c === value)?.[0] : undefined;
    out[source] = back ?? value;
  }
  return out;
}

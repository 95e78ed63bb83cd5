// Default mapping of NetSuite records (as SuiteQL rows) onto canonical entities: the table and
// transaction type of each stream, which columns are dates (selected through TO_CHAR so they
// arrive as ISO text whatever the user's date format), which are list references read by their
// display name (BUILTIN.DF: terms) or translated through a list (currency: its internal id → the
// ISO code in `currency.symbol`), and canonical field ← column (WIRE.md "References"). Overrides,
// in order: the tenant's `entities.<entity>.mapping.<system>`, then the system's
// `mapping.<stream>`; a column they name is selected too (as a date when its field is one).
import { ENTITY_FIELDS, type Entity } from '../../../staging/model/entities.js';
import {
  effectiveMapping,
  type FieldMapping,
  type SourceNameRule,
  type TenantEntityMapping,
} from '../map-record.js';
import type { NetsuiteStream, NetsuiteSystemConfig } from './config.js';

export interface NetsuiteStreamSpec {
  entity: Entity;
  table: 'customer' | 'item' | 'transaction';
  /** Transaction type filter (SalesOrd, CustInvc, CustPymt). */
  type?: string;
  /** `deletedrecord.type` values (lower-cased) of rows that belong to this stream. */
  deletedTypes: readonly string[];
  /** Columns read as they are. */
  columns: readonly string[];
  /** Date columns, read as TO_CHAR(col, 'YYYY-MM-DD'). */
  dateColumns: readonly string[];
  /** List references read by their display name, BUILTIN.DF(col) (terms → "Net 30"). */
  displayColumns: readonly string[];
  /** Currency references among `columns`: internal id → ISO code through the `currency` list. */
  currencyColumns: readonly string[];
  mapping: FieldMapping;
  /** The tenant's entities.<entity>.mappingVersion, stamped on staged rows. */
  mappingVersion?: number;
}

/** SuiteQL column names: the only source names a mapping may use (SuiteQL has no bind parameters). */
export const SUITEQL_COLUMN: SourceNameRule = {
  pattern: /^[A-Za-z][A-Za-z0-9_]{0,62}$/,
  expected: 'a SuiteQL column name',
};

/** Selected by every stream query under these names already. */
const RESERVED_COLUMNS = new Set(['id', 'lastmodified']);

const TX_COLUMNS = ['tranid', 'entity', 'status', 'currency', 'foreigntotal', 'taxtotal', 'externalid'];

const DEFAULTS: Readonly<Record<NetsuiteStream, NetsuiteStreamSpec>> = {
  customer: {
    entity: 'customer',
    table: 'customer',
    deletedTypes: ['customer'],
    columns: ['entityid', 'companyname', 'email', 'phone', 'currency', 'creditlimit', 'externalid'],
    dateColumns: [],
    displayColumns: ['terms'],
    currencyColumns: ['currency'],
    mapping: {
      fields: {
        crm_ref: 'externalid',
        erp_customer_number: 'entityid',
        name: 'companyname',
        email: 'email',
        phone: 'phone',
        currency: 'currency',
        payment_terms: 'terms',
        credit_limit: 'creditlimit',
      },
    },
  },
  item: {
    entity: 'product',
    table: 'item',
    deletedTypes: ['inventoryitem', 'noninventoryitem', 'serviceitem', 'item'],
    columns: ['itemid', 'displayname', 'itemtype', 'baseprice', 'isinactive', 'externalid'],
    dateColumns: [],
    displayColumns: [],
    currencyColumns: [],
    mapping: {
      fields: {
        crm_ref: 'externalid',
        sku: 'itemid',
        name: 'displayname',
        type: 'itemtype',
        list_price: 'baseprice',
        active: 'isinactive',
      },
      valueMaps: { active: { T: 'false', F: 'true' } },
    },
  },
  salesorder: {
    entity: 'order',
    table: 'transaction',
    type: 'SalesOrd',
    deletedTypes: ['salesorder', 'salesord'],
    columns: TX_COLUMNS,
    dateColumns: ['trandate'],
    displayColumns: [],
    currencyColumns: ['currency'],
    mapping: {
      fields: {
        crm_ref: 'externalid',
        number: 'tranid',
        customer_ref: 'entity',
        order_date: 'trandate',
        status: 'status',
        currency: 'currency',
        amount_tax: 'taxtotal',
        amount_total: 'foreigntotal',
      },
    },
  },
  invoice: {
    entity: 'invoice',
    table: 'transaction',
    type: 'CustInvc',
    deletedTypes: ['invoice', 'custinvc'],
    columns: [...TX_COLUMNS, 'foreignamountremaining'],
    dateColumns: ['trandate', 'duedate'],
    displayColumns: [],
    currencyColumns: ['currency'],
    mapping: {
      fields: {
        crm_ref: 'externalid',
        number: 'tranid',
        customer_ref: 'entity',
        issue_date: 'trandate',
        due_date: 'duedate',
        currency: 'currency',
        total: 'foreigntotal',
        tax: 'taxtotal',
        balance: 'foreignamountremaining',
        status: 'status',
      },
      // SuiteQL returns the status letter of CustInvc: A open, B paid in full, V voided.
      valueMaps: { status: { A: 'open', B: 'paid', V: 'void', D: 'draft' } },
    },
  },
  payment: {
    entity: 'payment',
    table: 'transaction',
    type: 'CustPymt',
    deletedTypes: ['customerpayment', 'custpymt'],
    columns: TX_COLUMNS,
    dateColumns: ['trandate'],
    displayColumns: [],
    currencyColumns: ['currency'],
    mapping: {
      fields: {
        crm_ref: 'externalid',
        number: 'tranid',
        customer_ref: 'entity',
        payment_date: 'trandate',
        currency: 'currency',
        amount: 'foreigntotal',
      },
    },
  },
};

/** The default entity of a stream. */
export function netsuiteEntity(stream: NetsuiteStream): Entity {
  return DEFAULTS[stream].entity;
}

/**
 * The effective spec of one stream: defaults, the tenant's entity overrides, the system's stream
 * overrides; every mapped column is selected. Throws MappingConfigError.
 */
export function netsuiteStreamSpec(
  stream: NetsuiteStream,
  config: NetsuiteSystemConfig,
  tenant: TenantEntityMapping = {},
): NetsuiteStreamSpec {
  const base = DEFAULTS[stream];
  const mapping = effectiveMapping(
    base.entity,
    base.mapping,
    tenant,
    config.mapping[stream],
    `${stream} → ${base.entity}`,
    SUITEQL_COLUMN,
  );
  const types = new Map(ENTITY_FIELDS[base.entity].map((d) => [d.name, d.type]));
  const dateColumns = new Set(base.dateColumns);
  const columns = new Set(base.columns);
  for (const [canonical, column] of Object.entries(mapping.fields)) {
    if (RESERVED_COLUMNS.has(column) || columns.has(column) || dateColumns.has(column)) continue;
    if (base.displayColumns.includes(column)) continue;
    (types.get(canonical) === 'date' ? dateColumns : columns).add(column);
  }
  return {
    ...base,
    columns: [...columns],
    dateColumns: [...dateColumns],
    mapping,
    ...(tenant.mappingVersion ? { mappingVersion: tenant.mappingVersion } : {}),
  };
}

/** The stream a `deletedrecord.type` belongs to, among the configured ones. */
export function streamOfDeletedType(
  recordType: string,
  streams: readonly NetsuiteStream[],
): NetsuiteStream | null {
  return streams.find((s) => DEFAULTS[s].deletedTypes.includes(recordType.toLowerCase())) ?? null;
}

// Default mapping of NetSuite records (as SuiteQL rows) onto canonical entities: the table and
// transaction type of each stream, which columns are dates (selected through TO_CHAR so they
// arrive as ISO text whatever the user's date format), and canonical field ← column. Tenants
// override fields per stream in config (`mapping.<stream>`).
import type { Entity } from '../../../staging/model/entities.js';
import { type FieldMapping, mergeMapping } from '../map-record.js';
import type { NetsuiteStream, NetsuiteSystemConfig } from './config.js';

export interface NetsuiteStreamSpec {
  entity: Entity;
  table: 'customer' | 'item' | 'transaction';
  /** Transaction type filter (SalesOrd, CustInvc, CustPymt). */
  type?: string;
  /** recordtype values of `deletedrecord` rows that belong to this stream. */
  deletedTypes: readonly string[];
  /** Columns read as they are. */
  columns: readonly string[];
  /** Date columns, read as TO_CHAR(col, 'YYYY-MM-DD'). */
  dateColumns: readonly string[];
  mapping: FieldMapping;
}

const TX_COLUMNS = ['tranid', 'entity', 'status', 'currency', 'foreigntotal', 'taxtotal', 'externalid'];

const DEFAULTS: Readonly<Record<NetsuiteStream, NetsuiteStreamSpec>> = {
  customer: {
    entity: 'customer',
    table: 'customer',
    deletedTypes: ['customer'],
    columns: ['entityid', 'companyname', 'email', 'phone', 'currency', 'terms', 'creditlimit', 'externalid'],
    dateColumns: [],
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
    deletedTypes: ['salesorder'],
    columns: TX_COLUMNS,
    dateColumns: ['trandate'],
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
    deletedTypes: ['invoice'],
    columns: [...TX_COLUMNS, 'foreignamountremaining'],
    dateColumns: ['trandate', 'duedate'],
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
    deletedTypes: ['customerpayment'],
    columns: TX_COLUMNS,
    dateColumns: ['trandate'],
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

export function netsuiteStreamSpec(stream: NetsuiteStream, config: NetsuiteSystemConfig): NetsuiteStreamSpec {
  const base = DEFAULTS[stream];
  return { ...base, mapping: mergeMapping(base.mapping, config.mapping[stream]) };
}

/** The stream a `deletedrecord.recordtype` belongs to, among the configured ones. */
export function streamOfDeletedType(
  recordType: string,
  streams: readonly NetsuiteStream[],
): NetsuiteStream | null {
  return streams.find((s) => DEFAULTS[s].deletedTypes.includes(recordType.toLowerCase())) ?? null;
}

// The demo's Postgres sources beyond customers: products, orders and invoices as an Odoo-shaped ERP
// (`product_product`, `sale_order`, `account_move`) or a Twenty-shaped CRM (`opportunity` and two
// custom objects, `product` and `invoice`, in the workspace schema) holds them. References are
// plain columns holding the source's own ids — Odoo's integer `partner_id`, Twenty's uuid
// `"companyId"` — so a correction of a reference is written like any other field. Each table is
// described once (columns and types); its DDL, its load and its `tables` mapping come from that.
import type pg from 'pg';
import type { GeneratedRecord } from '../generator/ground-truth.js';
import { type DemoEntity, ODOO_FIRST_NEW_ID } from './demo-data.js';

export type SourceShape = 'odoo' | 'twenty';
/** Twenty keeps each workspace in its own schema. */
export const TWENTY_SCHEMA = 'workspace_demo';

interface TableSpec {
  schema?: string;
  table: string;
  /** canonical field → [column, SQL type]. */
  columns: Record<string, readonly [string, string]>;
}

const ODOO_ID = 'integer';
const TWENTY_ID = 'uuid';

const SPECS: Readonly<Record<SourceShape, Record<DemoEntity, TableSpec>>> = {
  odoo: {
    product: {
      table: 'product_product',
      columns: {
        crm_ref: ['x_crm_ref', 'varchar'],
        sku: ['default_code', 'varchar'],
        name: ['name', 'varchar'],
        list_price: ['list_price', 'numeric'],
        currency: ['x_currency_code', 'varchar(3)'],
        active: ['active', 'boolean'],
      },
    },
    order: {
      table: 'sale_order',
      columns: {
        crm_ref: ['x_crm_ref', 'varchar'],
        number: ['name', 'varchar'],
        customer_ref: ['partner_id', ODOO_ID],
        order_date: ['date_order', 'date'],
        currency: ['x_currency_code', 'varchar(3)'],
        amount_total: ['amount_total', 'numeric'],
      },
    },
    invoice: {
      table: 'account_move',
      columns: {
        crm_ref: ['x_crm_ref', 'varchar'],
        number: ['name', 'varchar'],
        customer_ref: ['partner_id', ODOO_ID],
        order_ref: ['x_sale_order_id', ODOO_ID],
        issue_date: ['invoice_date', 'date'],
        due_date: ['invoice_date_due', 'date'],
        currency: ['x_currency_code', 'varchar(3)'],
        total: ['amount_total', 'numeric'],
        balance: ['amount_residual', 'numeric'],
      },
    },
  },
  twenty: {
    product: {
      schema: TWENTY_SCHEMA,
      table: 'product',
      columns: {
        erp_ref: ['erpProductRef', 'text'],
        sku: ['sku', 'text'],
        name: ['name', 'text'],
        list_price: ['listPrice', 'numeric'],
        currency: ['currencyCode', 'text'],
        active: ['active', 'boolean'],
      },
    },
    order: {
      schema: TWENTY_SCHEMA,
      table: 'opportunity',
      columns: {
        erp_ref: ['erpOrderRef', 'text'],
        number: ['name', 'text'],
        customer_ref: ['companyId', TWENTY_ID],
        order_date: ['closeDate', 'date'],
        currency: ['amountCurrencyCode', 'text'],
        amount_total: ['amount', 'numeric'],
      },
    },
    invoice: {
      schema: TWENTY_SCHEMA,
      table: 'invoice',
      columns: {
        erp_ref: ['erpInvoiceRef', 'text'],
        number: ['number', 'text'],
        customer_ref: ['companyId', TWENTY_ID],
        order_ref: ['opportunityId', TWENTY_ID],
        issue_date: ['issueDate', 'date'],
        due_date: ['dueDate', 'date'],
        currency: ['currencyCode', 'text'],
        total: ['total', 'numeric'],
        balance: ['balance', 'numeric'],
      },
    },
  },
};

const q = (name: string) => `"${name.replaceAll('"', '""')}"`;
const qualified = (s: TableSpec) => (s.schema ? `${q(s.schema)}.${q(s.table)}` : q(s.table));
const text = (v: unknown) => (v === null || v === undefined ? null : String(v));

function ddl(shape: SourceShape, s: TableSpec): string {
  const cols = Object.values(s.columns).map(([c, t]) => `${q(c)} ${t}`);
  if (shape === 'odoo') {
    const seq = q(`${s.table}_id_seq`);
    return `CREATE SEQUENCE ${seq} START ${ODOO_FIRST_NEW_ID};
      CREATE TABLE ${qualified(s)} (id integer PRIMARY KEY DEFAULT nextval('${s.table}_id_seq'), ${cols.join(', ')},
        create_date timestamptz DEFAULT now(), write_date timestamptz DEFAULT now());`;
  }
  return `CREATE TABLE ${qualified(s)} (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), ${cols.join(', ')},
    "createdAt" timestamptz DEFAULT now(), "updatedAt" timestamptz DEFAULT now(), "deletedAt" timestamptz);`;
}

/** Creates the entity's table of this shape and loads `records` (the Twenty schema exists already). */
export async function loadEntity(
  pool: pg.Pool,
  shape: SourceShape,
  entity: DemoEntity,
  records: readonly GeneratedRecord[],
): Promise<void> {
  const s = SPECS[shape][entity];
  await pool.query(ddl(shape, s));
  const entries = Object.entries(s.columns);
  const stamps = shape === 'odoo' ? ['create_date', 'write_date'] : ['createdAt', 'updatedAt'];
  const arrays = [
    records.map((r) => r.sourceId),
    ...entries.map(([f]) => records.map((r) => text(r.fields[f]))),
    records.map((r) => r.updatedAt),
  ];
  const names = arrays.map((_, i) => `c${i}`);
  const at = names[names.length - 1]!;
  const select = [
    `c0::${shape === 'odoo' ? ODOO_ID : TWENTY_ID}`,
    ...entries.map(([, [, type]], i) => `c${i + 1}::${type}`),
    `${at}::timestamptz`,
    `${at}::timestamptz`,
  ];
  await pool.query(
    `INSERT INTO ${qualified(s)} (id, ${entries.map(([, [c]]) => q(c)).join(', ')}, ${stamps.map(q).join(', ')})
     SELECT ${select.join(', ')} FROM unnest(${arrays.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS t(${names.join(', ')})`,
    arrays,
  );
}

/** Deletes `ids` of the entity as the shape does: Odoo removes the row, Twenty sets "deletedAt". */
export async function deleteEntityRows(
  pool: pg.Pool,
  shape: SourceShape,
  entity: DemoEntity,
  ids: readonly string[],
): Promise<void> {
  const s = SPECS[shape][entity];
  if (shape === 'odoo') await pool.query(`DELETE FROM ${qualified(s)} WHERE id = ANY($1::int[])`, [ids]);
  else
    await pool.query(
      `UPDATE ${qualified(s)} SET "deletedAt" = now(), "updatedAt" = now() WHERE id = ANY($1::uuid[])`,
      [ids],
    );
}

/** The `tables` entry of the `postgres` system config that maps the entity's table of this shape. */
export function entityTable(shape: SourceShape, entity: DemoEntity): Record<string, unknown> {
  const s = SPECS[shape][entity];
  const fields = Object.fromEntries(Object.entries(s.columns).map(([f, [c]]) => [f, c]));
  return {
    ...(s.schema ? { schema: s.schema } : {}),
    table: s.table,
    entity,
    key: ['id'],
    fields,
    ...(shape === 'odoo' ? { updatedAt: 'write_date' } : { softDelete: '"deletedAt" IS NOT NULL' }),
  };
}

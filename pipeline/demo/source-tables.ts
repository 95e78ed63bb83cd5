// The demo's Postgres sources: databases in the demo's own source cluster (a second embedded
// Postgres, wal_level=logical) holding an Odoo-shaped ERP (`res_partner`) or a Twenty-shaped CRM
// (a workspace schema with `company`, camelCase columns, soft delete through "deletedAt"), loaded
// with generated customers, and the tenant's other entities when given (source-entities.ts).
// Records the generator marks deleted are loaded live and deleted after the first sync (Odoo: the
// row goes; Twenty: "deletedAt" is set), so CDC carries the deletes.
import pg from 'pg';
import { quoteIdent } from '../../staging/identifiers.js';
import type { GeneratedRecord } from '../generator/ground-truth.js';
import { DEMO_ENTITIES, type DemoEntity, ODOO_FIRST_NEW_ID } from './demo-data.js';
import {
  deleteEntityRows,
  entityTable,
  loadEntity,
  type SourceShape,
  TWENTY_SCHEMA,
} from './source-entities.js';

export { type SourceShape, TWENTY_SCHEMA } from './source-entities.js';

/** Records of the entities beyond customers a source holds. */
export type OtherRecords = Partial<Record<DemoEntity, readonly GeneratedRecord[]>>;

export interface SourceDatabase {
  name: string;
  shape: SourceShape;
  /** Deletes the records the generator marks deleted (after a first sync). */
  deleteMarked(): Promise<void>;
  close(): Promise<void>;
}

const DDL: Record<SourceShape, string> = {
  odoo: `
    CREATE SEQUENCE res_partner_id_seq START ${ODOO_FIRST_NEW_ID};
    CREATE TABLE res_partner (
      id integer PRIMARY KEY DEFAULT nextval('res_partner_id_seq'),
      name varchar, ref varchar, email varchar, phone varchar, credit_limit numeric,
      x_currency_code varchar(3), company_id int, is_company boolean DEFAULT true, active boolean DEFAULT true,
      create_date timestamptz DEFAULT now(), write_date timestamptz DEFAULT now());`,
  twenty: `
    CREATE SCHEMA ${TWENTY_SCHEMA};
    CREATE TABLE ${TWENTY_SCHEMA}.company (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      "name" text, "domainNamePrimaryLinkUrl" text, "phonesPrimaryPhoneNumber" text,
      "creditLimit" numeric, "currencyCode" text, "erpCustomerRef" text,
      "createdAt" timestamptz DEFAULT now(), "updatedAt" timestamptz DEFAULT now(), "deletedAt" timestamptz);`,
};

const text = (v: unknown) => (v === null || v === undefined ? null : String(v));

/** Creates database `name` on the source cluster (`adminUrl`), its tables, and loads `records`. */
export async function createSourceDatabase(
  adminUrl: string,
  name: string,
  shape: SourceShape,
  records: readonly GeneratedRecord[],
  others: OtherRecords = {},
): Promise<SourceDatabase> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  pool.on('error', () => {});
  await pool.query(DDL[shape]);
  const col = (f: string) => records.map((r) => text(r.fields[f]));
  const ids = records.map((r) => r.sourceId);
  const stamps = records.map((r) => r.updatedAt);
  // A record the generator dead-letters holds a currency no mapping reads ("Yen (¥)").
  const twentyCurrency = records.map((r) => (r.deadLetter ? 'Yen (¥)' : text(r.fields.currency)));
  if (shape === 'odoo')
    await pool.query(
      `INSERT INTO res_partner (id, ref, name, phone, credit_limit, x_currency_code, create_date, write_date)
       SELECT id::int, ref, name, phone, credit_limit::numeric, cur, at::timestamptz, at::timestamptz
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
           AS t(id, ref, name, phone, credit_limit, cur, at)`,
      [ids, col('crm_ref'), col('name'), col('phone'), col('credit_limit'), col('currency'), stamps],
    );
  else
    await pool.query(
      `INSERT INTO ${TWENTY_SCHEMA}.company (id, "erpCustomerRef", "name", "phonesPrimaryPhoneNumber", "creditLimit", "currencyCode", "createdAt", "updatedAt")
       SELECT id::uuid, ref, name, phone, credit_limit::numeric, cur, at::timestamptz, at::timestamptz
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
           AS t(id, ref, name, phone, credit_limit, cur, at)`,
      [ids, col('erp_ref'), col('name'), col('phone'), col('credit_limit'), twentyCurrency, stamps],
    );
  const more = DEMO_ENTITIES.filter((e) => others[e]);
  for (const e of more) await loadEntity(pool, shape, e, others[e]!);
  const marked = records.filter((r) => r.deleted).map((r) => r.sourceId);
  return {
    name,
    shape,
    async deleteMarked() {
      if (shape === 'odoo') await pool.query('DELETE FROM res_partner WHERE id = ANY($1::int[])', [marked]);
      else
        await pool.query(
          `UPDATE ${TWENTY_SCHEMA}.company SET "deletedAt" = now(), "updatedAt" = now() WHERE id = ANY($1::uuid[])`,
          [marked],
        );
      for (const e of more)
        await deleteEntityRows(
          pool,
          shape,
          e,
          others[e]!.filter((r) => r.deleted).map((r) => r.sourceId),
        );
    },
    close: () => pool.end(),
  };
}

/** The `tables` entries of the `postgres` system config that map a source of this shape. */
export function sourceTables(
  shape: SourceShape,
  entities: readonly DemoEntity[] = [],
): Record<string, unknown>[] {
  return [...customerTables(shape), ...entities.map((e) => entityTable(shape, e))];
}

function customerTables(shape: SourceShape): Record<string, unknown>[] {
  if (shape === 'odoo')
    return [
      {
        table: 'res_partner',
        entity: 'customer',
        key: ['id'],
        fields: {
          crm_ref: 'ref',
          name: 'name',
          phone: 'phone',
          currency: 'x_currency_code',
          credit_limit: 'credit_limit',
        },
        updatedAt: 'write_date',
      },
    ];
  return [
    {
      schema: TWENTY_SCHEMA,
      table: 'company',
      entity: 'customer',
      key: ['id'],
      fields: {
        erp_ref: 'erpCustomerRef',
        name: 'name',
        phone: 'phonesPrimaryPhoneNumber',
        currency: 'currencyCode',
        credit_limit: 'creditLimit',
      },
      softDelete: '"deletedAt" IS NOT NULL',
    },
  ];
}

// What a reconcile run reads, besides the staged rows, to judge a finding (issue 12): the open dead
// letters of a tenant × entity (a side's completeness; a lone record whose counterpart could not be
// staged is unverifiable, not missing), the live discrepancies an incremental run must look at
// again, and the links of referenced records — a customer_ref is compared through the customers'
// links (control.xref, which also holds the key matches runs recorded, and the direct keys of the
// staged customers). docs/reconcile.md, "Dead letters" and "References".
import { sql } from 'kysely';
import type { Db } from '../database.js';
import { assertTenantId, quoteIdent, quoteLiteral, quoteQualified } from '../identifiers.js';
import type { Entity } from '../model/entities.js';
import { LIVE_DISCREPANCY_STATUSES } from './discrepancy-states.js';
import { sqlList } from './transition-table.js';

/**
 * COPY query of the open dead letters of a tenant × entity on its CRM and ERP systems, with the
 * canonical values of `fields` that the dead-lettered change still carries (null for a letter
 * holding only the raw record). Columns: side ('crm' | 'erp'), id, source_id, then one per field.
 */
export function openDeadLettersSql(q: {
  tenant: string;
  entity: string;
  crmSystem: string;
  erpSystem: string;
  fields: readonly string[];
}): string {
  const [tenant, entity, crm, erp] = [assertTenantId(q.tenant), q.entity, q.crmSystem, q.erpSystem].map(
    quoteLiteral,
  );
  const values = q.fields.map((f) => `record #>> ARRAY['change', 'fields', ${quoteLiteral(f)}]`);
  return `SELECT CASE WHEN system = ${crm} THEN 'crm' ELSE 'erp' END, id, source_id${values.map((v) => `, ${v}`).join('')}
    FROM control.dead_letters
   WHERE tenant_id = ${tenant} AND entity = ${entity} AND status = 'open' AND system IN (${crm}, ${erp})`;
}

/** The records of the live discrepancies of a tenant × entity, of some classes and fields. */
export async function liveDiscrepancyRecords(
  db: Db,
  q: { tenant: string; entity: string; classes?: readonly string[]; fields?: readonly string[] },
): Promise<{ crmId: string | null; erpId: string | null }[]> {
  const { rows } = await sql<{ crm_id: string | null; erp_id: string | null }>`
    SELECT crm_id, erp_id FROM control.discrepancies
     WHERE tenant_id = ${q.tenant} AND entity = ${q.entity} AND status IN ${sql.raw(sqlList(LIVE_DISCREPANCY_STATUSES))}
       AND (${q.classes ?? null}::text[] IS NULL OR class = ANY(${q.classes ?? null}::text[]))
       AND (${q.fields ?? null}::text[] IS NULL OR field = ANY(${q.fields ?? null}::text[]))`.execute(db);
  return rows.map((r) => ({ crmId: r.crm_id, erpId: r.erp_id }));
}

/** The links of one referenced entity of a tenant: its systems and its direct keys (match.direct). */
export interface LinkSource {
  tenant: string;
  entity: Entity;
  crmSystem: string;
  erpSystem: string;
  direct: readonly { side: 'crm' | 'erp'; field: string }[];
}

const fieldsOf = (s: LinkSource, side: 'crm' | 'erp') => [
  ...new Set(s.direct.filter((d) => d.side === side).map((d) => d.field)),
];

/**
 * Which of the pairs (a CRM id, an ERP id of the referenced entity) are linked to each other: by
 * xref (manual links and the key matches runs recorded) or by a direct key of either record
 * (a tombstone's too). Primary-key lookups only. Returns the indexes of the linked pairs.
 */
export async function linkedPairs(
  db: Db,
  s: LinkSource,
  pairs: readonly { crm: string; erp: string }[],
): Promise<Set<number>> {
  if (!pairs.length) return new Set();
  const table = sql.raw(quoteQualified('staging', s.entity));
  const direct = (['crm', 'erp'] as const).flatMap((side) =>
    fieldsOf(s, side).map((f) => {
      const [own, other] = side === 'crm' ? ['q.c', 'q.e'] : ['q.e', 'q.c'];
      return sql`EXISTS (SELECT 1 FROM ${table} s WHERE s.tenant_id = ${s.tenant}
                   AND s.system = ${side === 'crm' ? s.crmSystem : s.erpSystem} AND s.source_id = ${sql.raw(own)}
                   AND s.${sql.raw(quoteIdent(f))}::text = ${sql.raw(other)})`;
    }),
  );
  const { rows } = await sql<{ i: number }>`
    SELECT (q.i - 1)::int AS i FROM unnest(${pairs.map((p) => p.crm)}::text[], ${pairs.map((p) => p.erp)}::text[])
           WITH ORDINALITY AS q(c, e, i)
     WHERE EXISTS (SELECT 1 FROM control.xref x WHERE x.tenant_id = ${s.tenant} AND x.entity = ${s.entity}
                    AND x.crm_system = ${s.crmSystem} AND x.crm_id = q.c AND x.erp_system = ${s.erpSystem}
                    AND x.erp_id = q.e)
       ${direct.length ? sql`OR ${sql.join(direct, sql` OR `)}` : sql``}`.execute(db);
  return new Set(rows.map((r) => r.i));
}

/** A referenced record as a finding names it: its id, its name (or number), what it is linked to. */
export interface ReferencedRecord {
  id: string;
  /** The record's name field (customer name, order or invoice number); null when not staged. */
  name: string | null;
  /** The ids of the other system's records it is linked to. */
  linkedTo: string[];
  /** Open dead letters of the record (it could not be staged). */
  deadLetters: string[];
}

/**
 * The referenced records `ids` of one side with their partners on the other side (xref, their own
 * direct keys, and the other side's records whose direct key names them — that last lookup reads
 * the other system's rows of the entity, so it is asked only for the few references that are not
 * linked to each other), their names and open dead letters.
 */
export async function referencedRecords(
  db: Db,
  s: LinkSource,
  nameField: string,
  side: 'crm' | 'erp',
  ids: readonly string[],
): Promise<Map<string, ReferencedRecord>> {
  const out = new Map<string, ReferencedRecord>();
  if (!ids.length) return out;
  const table = sql.raw(quoteQualified('staging', s.entity));
  const [mine, theirs] = side === 'crm' ? [s.crmSystem, s.erpSystem] : [s.erpSystem, s.crmSystem];
  const [myCol, theirCol] = side === 'crm' ? ['crm_id', 'erp_id'] : ['erp_id', 'crm_id'];
  const own = fieldsOf(s, side).map(
    (f) => sql`SELECT s.source_id AS id, s.${sql.raw(quoteIdent(f))}::text AS partner FROM ${table} s
                WHERE s.tenant_id = ${s.tenant} AND s.system = ${mine} AND s.source_id = ANY(${ids}::text[])`,
  );
  const other = side === 'crm' ? 'erp' : 'crm';
  const reverse = fieldsOf(s, other).map(
    (f) => sql`SELECT s.${sql.raw(quoteIdent(f))}::text AS id, s.source_id AS partner FROM ${table} s
                WHERE s.tenant_id = ${s.tenant} AND s.system = ${theirs}
                  AND s.${sql.raw(quoteIdent(f))}::text = ANY(${ids}::text[])`,
  );
  const xref = sql`SELECT x.${sql.raw(myCol)} AS id, x.${sql.raw(theirCol)} AS partner FROM control.xref x
                    WHERE x.tenant_id = ${s.tenant} AND x.entity = ${s.entity} AND x.crm_system = ${s.crmSystem}
                      AND x.erp_system = ${s.erpSystem} AND x.${sql.raw(myCol)} = ANY(${ids}::text[])`;
  const links = await sql<{ id: string; partner: string | null }>`
    SELECT DISTINCT id, partner FROM (${sql.join([xref, ...own, ...reverse], sql` UNION ALL `)}) l
     WHERE partner IS NOT NULL ORDER BY id, partner`.execute(db);
  const names = await sql<{ id: string; name: string | null }>`
    SELECT source_id AS id, ${sql.raw(quoteIdent(nameField))}::text AS name FROM ${table}
     WHERE tenant_id = ${s.tenant} AND system = ${mine} AND source_id = ANY(${ids}::text[])`.execute(db);
  const dead = await sql<{ id: string; dl: string }>`
    SELECT source_id AS id, id::text AS dl FROM control.dead_letters
     WHERE tenant_id = ${s.tenant} AND entity = ${s.entity} AND system = ${mine} AND status = 'open'
       AND source_id = ANY(${ids}::text[]) ORDER BY dead_letters.id`.execute(db);
  for (const id of ids) out.set(id, { id, name: null, linkedTo: [], deadLetters: [] });
  for (const r of links.rows) out.get(r.id)?.linkedTo.push(r.partner!);
  for (const r of names.rows) {
    const rec = out.get(r.id);
    if (rec) rec.name = r.name;
  }
  for (const r of dead.rows) out.get(r.id)?.deadLetters.push(r.dl);
  return out;
}

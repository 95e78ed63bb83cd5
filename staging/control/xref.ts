// control.xref: cross-system links between a CRM and an ERP record of one tenant and entity,
// recorded from key matches by runs and by `trueup xref link|unlink`. A manual link of a pair a
// key match linked takes it over (who and when), so the pair stays linked when the business key
// later changes. Origins and transitions: xref-states.ts.
import { sql } from 'kysely';
import type pg from 'pg';
import type { Db } from '../database.js';
import { assertTenantId, quoteLiteral, quoteQualified } from '../identifiers.js';
import { type Entity, isEntity } from '../model/entities.js';
import { TrueupError } from '../model/errors.js';
import { clientDb } from './control-db.js';
import { NEW, sqlList } from './transition-table.js';
import { TAKEN_OVER_BY_LINK, type XrefOrigin, xrefTransition } from './xref-states.js';

export interface XrefLink {
  tenant: string;
  entity: string;
  crmSystem: string;
  crmId: string;
  erpSystem: string;
  erpId: string;
  origin: XrefOrigin;
  createdBy?: string | null;
}

export interface LinkOutcome {
  /** Links that did not exist. */
  inserted: number;
  /** Key-match links that a manual link took over. */
  madeManual: number;
}

export async function linkRecords(db: Db, links: readonly XrefLink[]): Promise<LinkOutcome> {
  if (!links.length) return { inserted: 0, madeManual: 0 };
  const rows = await db
    .insertInto('control.xref')
    .values(
      links.map((l) => ({
        tenant_id: l.tenant,
        entity: l.entity,
        crm_system: l.crmSystem,
        crm_id: l.crmId,
        erp_system: l.erpSystem,
        erp_id: l.erpId,
        origin: l.origin,
        created_by: l.createdBy ?? null,
      })),
    )
    // Only manual over key_match: a key match never demotes a manual link, and linking a manual
    // link again keeps who made it first.
    .onConflict((oc) =>
      oc
        .columns(['tenant_id', 'entity', 'crm_system', 'crm_id', 'erp_system', 'erp_id'])
        .doUpdateSet({
          origin: sql<'manual'>`excluded.origin`,
          created_by: sql<string | null>`excluded.created_by`,
          created_at: sql<Date>`now()`,
        })
        .where(
          sql<boolean>`excluded.origin = ${xrefTransition('key_match', 'link')}
            AND control.xref.origin IN ${sql.raw(sqlList(TAKEN_OVER_BY_LINK))}`,
        ),
    )
    .returning(sql<boolean>`(xmax = 0)`.as('inserted'))
    .execute();
  const inserted = rows.filter((r) => r.inserted).length;
  return { inserted, madeManual: rows.length - inserted };
}

export interface LinkEnd {
  system: string;
  id: string;
}

/** A link names a record that staging holds no row of (live or tombstoned). */
export class MissingRecordError extends TrueupError {
  override name = 'MissingRecordError';
  constructor(
    readonly tenant: string,
    readonly entity: string,
    readonly missing: readonly LinkEnd[],
  ) {
    super(
      `tenant ${tenant}, entity ${entity}: no record ${missing.map((m) => `${m.system} ${m.id}`).join(', ')} in staging ` +
        `(staging.${entity}, live or deleted); give --allow-missing to link records not extracted yet`,
      { kind: 'terminal', subject: { tenant, entity } },
    );
  }
}

/** The ends of a link that staging holds no row of, live or tombstoned: both in one query. */
export async function missingRecords(
  db: Db,
  tenant: string,
  entity: Entity,
  ends: readonly LinkEnd[],
): Promise<LinkEnd[]> {
  if (!isEntity(entity))
    throw new TrueupError(`unknown entity ${JSON.stringify(entity)}`, { subject: { tenant, entity } });
  if (!ends.length) return [];
  const { rows } = await sql<{ ord: number }>`
    SELECT e.ord::int AS ord FROM jsonb_array_elements(${JSON.stringify(ends)}::jsonb) WITH ORDINALITY AS e(v, ord)
     WHERE NOT EXISTS (SELECT 1 FROM ${sql.raw(quoteQualified('staging', entity))} s
                        WHERE s.tenant_id = ${tenant} AND s.system = e.v->>'system' AND s.source_id = e.v->>'id')
     ORDER BY e.ord`.execute(db);
  return rows.map((r) => ends[r.ord - 1]!);
}

/**
 * A manual link of one pair, refused (MissingRecordError) when staging has never seen one of the
 * records, unless `allowMissing` (a record may be linked before it is first extracted).
 */
export async function linkManually(
  db: Db,
  link: Omit<XrefLink, 'origin'> & { entity: Entity },
  opts: { allowMissing?: boolean } = {},
): Promise<LinkOutcome> {
  if (!opts.allowMissing) {
    const missing = await missingRecords(db, link.tenant, link.entity, [
      { system: link.crmSystem, id: link.crmId },
      { system: link.erpSystem, id: link.erpId },
    ]);
    if (missing.length) throw new MissingRecordError(link.tenant, link.entity, missing);
  }
  return linkRecords(db, [{ ...link, origin: xrefTransition(NEW, 'link') }]);
}

export async function unlinkRecords(
  db: Db,
  l: { tenant: string; entity: string; crmSystem: string; crmId: string; erpSystem: string; erpId: string },
): Promise<number> {
  const res = await db
    .deleteFrom('control.xref')
    .where('tenant_id', '=', l.tenant)
    .where('entity', '=', l.entity)
    .where('crm_system', '=', l.crmSystem)
    .where('crm_id', '=', l.crmId)
    .where('erp_system', '=', l.erpSystem)
    .where('erp_id', '=', l.erpId)
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}

export async function listLinks(db: Db, tenant: string, entity: string): Promise<XrefLink[]> {
  const rows = await db
    .selectFrom('control.xref')
    .selectAll()
    .where('tenant_id', '=', tenant)
    .where('entity', '=', entity)
    .execute();
  return rows.map((r) => ({
    tenant: r.tenant_id,
    entity: r.entity,
    crmSystem: r.crm_system,
    crmId: r.crm_id,
    erpSystem: r.erp_system,
    erpId: r.erp_id,
    origin: r.origin,
    createdBy: r.created_by,
  }));
}

/**
 * Records the pairs a run matched by a business key (origin key_match), inside the caller's
 * transaction on `client`: `fill` puts them into the temp table `trueup_keymatch (crm_id, erp_id)`
 * (by COPY). A pair already linked keeps its link (X1).
 */
export async function recordKeyMatches(
  client: pg.ClientBase,
  run: { tenant: string; entity: string; runId: string; crmSystem: string; erpSystem: string },
  fill: (client: pg.ClientBase) => Promise<void>,
): Promise<void> {
  await client.query('CREATE TEMP TABLE trueup_keymatch (crm_id text, erp_id text) ON COMMIT DROP');
  await fill(client);
  await sql`
    INSERT INTO control.xref (tenant_id, entity, crm_system, crm_id, erp_system, erp_id, origin, created_by)
    SELECT ${run.tenant}, ${run.entity}, ${run.crmSystem}, k.crm_id, ${run.erpSystem}, k.erp_id,
           ${xrefTransition(NEW, 'key_match')}, ${`reconcile ${run.runId}`}
      FROM trueup_keymatch k
    ON CONFLICT DO NOTHING`.execute(clientDb(client));
}

/**
 * The version of a tenant × entity's links (X2): it changes with every write of them. `0` when no
 * link of it was written since migration 0007 made the versions.
 */
export async function xrefVersion(db: Db, tenant: string, entity: string): Promise<string> {
  const { rows } = await sql<{ v: string }>`
    SELECT version::text AS v FROM control.xref_versions WHERE tenant_id = ${tenant} AND entity = ${entity}`.execute(
    db,
  );
  return rows[0]?.v ?? '0';
}

/**
 * COPY query (COPY takes no parameters: the values are quoted literals) of the links of a tenant ×
 * entity between two systems. Columns: crm_id, erp_id.
 */
export function xrefLinksSql(q: {
  tenant: string;
  entity: string;
  crmSystem: string;
  erpSystem: string;
}): string {
  const [tenant, entity, crm, erp] = [assertTenantId(q.tenant), q.entity, q.crmSystem, q.erpSystem].map(
    quoteLiteral,
  );
  return `SELECT crm_id, erp_id FROM control.xref
    WHERE tenant_id = ${tenant} AND entity = ${entity} AND crm_system = ${crm} AND erp_system = ${erp}`;
}

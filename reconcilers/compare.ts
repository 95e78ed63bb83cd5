// Field-by-field comparison of matched, live pairs in DuckDB, and the reads that bring the few
// rows needing attention (mismatching pairs, deleted_in_one pairs, lone records) to the job.
import type { EntityConfig } from '../pipeline/config/schema.js';
import { ENTITY_FIELDS, type Entity } from '../staging/model/entities.js';
import { minorUnits } from '../staging/model/money.js';
import { comparedFields, duckIdent, equalExpr, SqlParams } from './comparators.js';
import type { Duck } from './duck.js';

/** One staged record as read from the mirror: canonical fields as text plus bookkeeping. */
export interface MirrorRow {
  side: 'crm' | 'erp';
  source_id: string;
  version: bigint;
  updated_at: string | null;
  deleted: boolean;
  fields: Record<string, string | null>;
}

export interface PairDiff {
  crm: MirrorRow;
  erp: MirrorRow;
  lvl: number;
  fields: string[];
}

/** Fills minor_units with every currency the mirror holds (JPY 0, USD 2, BHD 3 digits). */
export async function refreshMinorUnits(duck: Duck, entity: Entity): Promise<void> {
  const curFields = [
    ...new Set(ENTITY_FIELDS[entity].filter((d) => d.currencyField).map((d) => d.currencyField!)),
  ];
  for (const f of curFields) {
    const rows = await duck.rows<{ c: string }>(
      `SELECT DISTINCT ${duckIdent(f)} AS c FROM rec WHERE ${duckIdent(f)} IS NOT NULL AND ${duckIdent(f)} NOT IN (SELECT code FROM minor_units)`,
    );
    for (const { c } of rows) {
      let digits: number;
      try {
        digits = minorUnits(c.trim());
      } catch {
        continue; // not an ISO code: money comparisons fall back to 2 digits
      }
      await duck.run('INSERT OR REPLACE INTO minor_units VALUES ($c, CAST($f AS DECIMAL(38,0)))', {
        c,
        f: (10 ** digits).toString(),
      });
    }
  }
}

function moneyJoin(entity: Entity, c: string, e: string): string {
  const cur = ENTITY_FIELDS[entity].find((d) => d.currencyField)?.currencyField;
  if (!cur) return 'CROSS JOIN (SELECT CAST(NULL AS DECIMAL(38,0)) AS factor) mu';
  return `LEFT JOIN minor_units mu ON mu.code = coalesce(${e}.${duckIdent(cur)}, ${c}.${duckIdent(cur)})`;
}

function rowColumns(entity: Entity, alias: string, prefix: string): string {
  const cols = ['source_id', 'version', 'updated_at', 'deleted', ...ENTITY_FIELDS[entity].map((d) => d.name)];
  return cols.map((c) => `${alias}.${duckIdent(c)} AS ${duckIdent(prefix + c)}`).join(', ');
}

export function toMirrorRow(
  entity: Entity,
  side: 'crm' | 'erp',
  r: Record<string, unknown>,
  prefix = '',
): MirrorRow {
  const fields: Record<string, string | null> = {};
  for (const d of ENTITY_FIELDS[entity]) fields[d.name] = (r[prefix + d.name] as string | null) ?? null;
  return {
    side,
    source_id: String(r[`${prefix}source_id`]),
    version: BigInt(r[`${prefix}version`] as bigint),
    updated_at: (r[`${prefix}updated_at`] as string | null) ?? null,
    deleted: Boolean(r[`${prefix}deleted`]),
    fields,
  };
}

/**
 * Pairs (from table `pairsTable`) whose live records differ in at least one compared field,
 * with the names of those fields. `crmSrc`/`erpSrc` are the record sources (the mirror, or the
 * freshly re-read rows during confirmation).
 */
export async function diffPairs(
  duck: Duck,
  entity: Entity,
  cfg: EntityConfig,
  systems: { crm: string; erp: string },
  src: { pairs: string; crm: string; erp: string },
): Promise<PairDiff[]> {
  const params = new SqlParams();
  const fields = comparedFields(entity, cfg);
  const eqs = fields.map((d) => equalExpr(d, cfg, params, { c: 'c', e: 'e', mu: 'mu', systems }));
  // Every comparator is reflexive: pairs whose raw values are all identical (nearly all of them)
  // are dropped by this cheap test before the comparator expressions run.
  const rawDiffers = fields.length
    ? fields.map((d) => `c.${duckIdent(d.name)} IS DISTINCT FROM e.${duckIdent(d.name)}`).join(' OR ')
    : 'false';
  const flags = eqs.map((eq, i) => `NOT ${eq} AS ${duckIdent(`d_${i}`)}`).join(', ');
  const sql = `SELECT p.lvl, ${flags}, ${rowColumns(entity, 'c', 'c_')}, ${rowColumns(entity, 'e', 'e_')}
    FROM ${src.pairs} p JOIN ${src.crm} c ON c.source_id = p.crm_id JOIN ${src.erp} e ON e.source_id = p.erp_id
    ${moneyJoin(entity, 'c', 'e')}
    WHERE NOT c.deleted AND NOT e.deleted
      AND (${rawDiffers})
      AND NOT (${eqs.length ? eqs.join(' AND ') : 'true'})`;
  const rows = await duck.rows(sql, params.values);
  return rows.map((r) => ({
    crm: toMirrorRow(entity, 'crm', r, 'c_'),
    erp: toMirrorRow(entity, 'erp', r, 'e_'),
    lvl: Number(r.lvl),
    fields: fields.filter((_d, i) => r[`d_${i}`] === true).map((d) => d.name),
  }));
}

/** Pairs where exactly one side is a tombstone. */
export async function deletedInOne(
  duck: Duck,
  entity: Entity,
  src: { pairs: string; crm: string; erp: string },
): Promise<{ crm: MirrorRow; erp: MirrorRow }[]> {
  const rows = await duck.rows(
    `SELECT ${rowColumns(entity, 'c', 'c_')}, ${rowColumns(entity, 'e', 'e_')}
      FROM ${src.pairs} p JOIN ${src.crm} c ON c.source_id = p.crm_id JOIN ${src.erp} e ON e.source_id = p.erp_id
      WHERE c.deleted <> e.deleted`,
  );
  return rows.map((r) => ({
    crm: toMirrorRow(entity, 'crm', r, 'c_'),
    erp: toMirrorRow(entity, 'erp', r, 'e_'),
  }));
}

/** Live records that matched nothing (table `lone`). */
export async function loneRecords(duck: Duck, entity: Entity): Promise<MirrorRow[]> {
  const rows = await duck.rows(
    `SELECT ${rowColumns(entity, 'r', '')}, r.side AS side FROM lone l JOIN rec r ON r.side = l.side AND r.source_id = l.source_id`,
  );
  return rows.map((r) => toMirrorRow(entity, r.side as 'crm' | 'erp', r));
}

export async function duplicateRecords(
  duck: Duck,
): Promise<{ side: 'crm' | 'erp'; id: string; partners: string[] }[]> {
  const rows = await duck.rows<{ side: 'crm' | 'erp'; id: string; partners: string[] }>(
    'SELECT side, id, partners FROM dups',
  );
  return rows.map((r) => ({ side: r.side, id: r.id, partners: [...r.partners] }));
}

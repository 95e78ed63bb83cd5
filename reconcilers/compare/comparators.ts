// Comparator semantics (docs/reconcile.md), compiled to DuckDB SQL. Each canonical field gets one
// comparator (the tenant's `compare` entry, else the default for its type) and becomes one boolean
// "the CRM value equals the ERP value" over the aliases of the two records. Identical staged values
// are equal under every comparator, so the mirror's content hash may skip equal records. Config
// values are always bound parameters, never SQL text.

import { ENTITY_FIELDS, type Entity, type FieldDef } from '../../staging/model/entities.js';
import type { ComparatorConfig, EntityConfig } from '../../staging/model/tenant-config.js';
import { nfkcSql } from '../duckdb/nfkc.js';
import { duckIdent, type SqlParams } from '../duckdb/sql-params.js';
import { collapseSql, foldSql, trimSql } from '../duckdb/text-sql.js';

/** The link fields: never compared, and never counted as filled by most_complete. */
export const LINK_FIELDS: ReadonlySet<string> = new Set(['crm_ref', 'erp_ref']);

/** Fields that are compared: every canonical field but the link fields and ignored ones. */
export function comparedFields(entity: Entity, cfg: EntityConfig): FieldDef[] {
  const ignored = new Set([...LINK_FIELDS, ...cfg.ignoreFields]);
  return ENTITY_FIELDS[entity].filter((d) => !ignored.has(d.name));
}

export function comparatorFor(def: FieldDef, cfg: EntityConfig): ComparatorConfig {
  const configured = cfg.compare[def.name];
  if (configured) return configured;
  switch (def.type) {
    case 'text':
      return { type: 'text', trim: true, caseFold: true, collapseSpaces: true, unicode: 'NFKC' };
    case 'decimal':
      return def.currencyField ? { type: 'money', toleranceMinor: 0 } : { type: 'numeric' };
    case 'date':
      return { type: 'date', granularity: 'day', zone: 'UTC' };
    case 'timestamp':
      return { type: 'date', granularity: 'second', zone: 'UTC' };
    default:
      return { type: 'exact' };
  }
}

/**
 * Per-side preparation of one field, in stages so that no value's SQL is nested into another's:
 * `value` (over the raw column) gives `<f>__v`, the value after null equivalences (and the side's
 * enum value map); `norm` (over `<f>__v`) gives `<f>__n`, its comparator-specific normal form;
 * `finish`, when present, is a last step over `<f>__n` (null equivalents after text
 * normalisation). Expressions without aliases; materializeDiffs (diff-pairs.ts) evaluates them
 * only for the fields whose raw values differ.
 */
export function prepColumns(
  def: FieldDef,
  cfg: EntityConfig,
  params: SqlParams,
  system: string,
): { value: string; norm: string; finish?: string } {
  const cmp = comparatorFor(def, cfg);
  const col = duckIdent(def.name);
  const nulls = cfg.nullEquivalents.map((v) => params.add(v));
  const nv = (x: string) =>
    nulls.length ? `CASE WHEN ${x} IN (${nulls.join(', ')}) THEN NULL ELSE ${x} END` : x;
  const v = duckIdent(`${def.name}__v`);
  const n = duckIdent(`${def.name}__n`);
  let value = nv(col);
  let norm: string;
  let finish: string | undefined;
  switch (cmp.type) {
    case 'exact':
      norm = def.type === 'decimal' ? `TRY_CAST(${v} AS DECIMAL(38,12))` : v;
      break;
    case 'text': {
      let t = cmp.unicode === 'none' ? v : cmp.unicode === 'NFKC' ? nfkcSql(v) : `nfc_normalize(${v})`;
      // Folding first: it neither makes nor removes whitespace, and its SQL repeats its input.
      if (cmp.caseFold) t = foldSql(t);
      if (cmp.collapseSpaces) t = collapseSql(t);
      if (cmp.trim) t = trimSql(t);
      norm = t;
      if (nulls.length)
        finish = `CASE WHEN list_contains([${nulls.join(', ')}], ${n}) THEN NULL ELSE ${n} END`;
      break;
    }
    case 'numeric':
    case 'money':
      norm = `TRY_CAST(${v} AS DECIMAL(38,12))`;
      break;
    case 'date':
      // The granularity is one of a closed zod enum, so it may be SQL text. A calendar date has
      // no time of day and so no zone: shifting it (as midnight UTC) into a zone west of UTC
      // would move 2024-03-01 into February. The zone applies to timestamps only.
      norm =
        def.type === 'date'
          ? `date_trunc('${cmp.granularity}', TRY_CAST(${v} AS DATE))`
          : `date_trunc('${cmp.granularity}', timezone(${params.add(cmp.zone)}, TRY_CAST(${v} AS TIMESTAMPTZ)))`;
      break;
    case 'enum': {
      const map = Object.entries(cmp.valueMap[system] ?? {});
      if (map.length)
        value = nv(
          `CASE ${col} ${map.map(([from, to]) => `WHEN ${params.add(from)} THEN ${params.add(to)}`).join(' ')} ELSE ${col} END`,
        );
      norm = v;
      break;
    }
  }
  return finish ? { value, norm, finish } : { value, norm };
}

interface Sides {
  /** Aliases of the raw rows. */
  c: string;
  e: string;
  /** Aliases of the prepared rows (`<f>__v`, `<f>__n`); default the raw rows' aliases. */
  cp?: string;
  ep?: string;
  /** Alias of the joined minor_units row (money comparators). */
  mu: string;
}

/**
 * SQL boolean over two prepared rows (prepColumns): the records' values of `def` are equal under
 * its comparator. Never NULL.
 */
export function equalExpr(def: FieldDef, cfg: EntityConfig, params: SqlParams, s: Sides): string {
  const cmp = comparatorFor(def, cfg);
  const raw = (a: string) => `${a}.${duckIdent(def.name)}`;
  const val = (a: string) => `${a}.${duckIdent(`${def.name}__v`)}`;
  const nrm = (a: string) => `${a}.${duckIdent(`${def.name}__n`)}`;
  const [cp, ep] = [s.cp ?? s.c, s.ep ?? s.e];
  const [a, b, na, nb] = [val(cp), val(ep), nrm(cp), nrm(ep)];
  // Both null, one null, or a value the comparator cannot read (then compared as text).
  const guarded = (test: string) => `CASE WHEN ${a} IS NULL OR ${b} IS NULL THEN ${a} IS NULL AND ${b} IS NULL
        WHEN ${na} IS NULL OR ${nb} IS NULL THEN ${a} = ${b}
        ELSE ${test} END`;
  let expr: string;
  switch (cmp.type) {
    case 'exact':
      expr =
        def.type === 'decimal'
          ? `coalesce(${na} = ${nb}, ${a} IS NOT DISTINCT FROM ${b})`
          : `${a} IS NOT DISTINCT FROM ${b}`;
      break;
    case 'text':
    case 'enum':
      expr = `${na} IS NOT DISTINCT FROM ${nb}`;
      break;
    case 'numeric': {
      const tests = [`${na} = ${nb}`];
      if (cmp.absolute !== undefined)
        tests.push(`abs(${na} - ${nb}) <= CAST(${params.add(cmp.absolute)} AS DECIMAL(38,12))`);
      if (cmp.relative !== undefined)
        tests.push(`abs(${na} - ${nb}) <= ${params.add(cmp.relative)} * greatest(abs(${na}), abs(${nb}))`);
      expr = guarded(`(${tests.join(' OR ')})`);
      break;
    }
    case 'money': {
      const cur = def.currencyField ? duckIdent(def.currencyField) : null;
      const sameCur = cur ? `${s.c}.${cur} IS NOT DISTINCT FROM ${s.e}.${cur}` : 'true';
      const factor = `coalesce(${s.mu}.factor, CAST(100 AS DECIMAL(38,0)))`;
      expr = guarded(`CASE WHEN NOT (${sameCur}) THEN ${na} = ${nb}
        ELSE abs(round(${na} * ${factor}, 0) - round(${nb} * ${factor}, 0)) <= ${params.add(cmp.toleranceMinor)} END`);
      break;
    }
    case 'date':
      expr = guarded(`${na} = ${nb}`);
      break;
  }
  return `coalesce(${raw(s.c)} IS NOT DISTINCT FROM ${raw(s.e)} OR (${expr}), false)`;
}

/** Maps a canonical value back to a system's own spelling through the enum value map (for actions). */
export function toSystemValue(def: FieldDef, cfg: EntityConfig, system: string, value: unknown): unknown {
  const cmp = cfg.compare[def.name];
  if (cmp?.type !== 'enum' || typeof value !== 'string') return value;
  const map = cmp.valueMap[system] ?? {};
  for (const [from, to] of Object.entries(map)) if (to === value) return from;
  return value;
}

/** Canonical value of a side's value through the value map (golden records hold canonical values). */
export function toCanonicalValue(def: FieldDef, cfg: EntityConfig, system: string, value: unknown): unknown {
  const cmp = cfg.compare[def.name];
  if (cmp?.type !== 'enum' || typeof value !== 'string') return value;
  const map = cmp.valueMap[system];
  return map && Object.hasOwn(map, value) ? map[value] : value;
}

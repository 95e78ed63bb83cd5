// Comparator semantics, compiled to DuckDB SQL. Each canonical field gets one comparator (the
// tenant's `compare` entry, else the default for its type) and becomes one boolean expression
// "the CRM value equals the ERP value" over the aliases of the two records. Config values (null
// equivalents, value maps, tolerances, zones) are always bound parameters, never SQL text.
//
// Semantics (the README documents them for users):
//   exact    values equal after null equivalences ('' = null by default)
//   text     unicode-normalised (NFC; NFKC is approximated by NFC), trimmed, inner whitespace
//            collapsed, case-folded — each step switchable
//   numeric  |a−b| ≤ absolute, or |a−b| ≤ relative × max(|a|,|b|); non-numbers compared as text
//   money    both rounded (half away from zero) to the minor unit of the record's ISO 4217
//            currency (JPY 0, USD 2, BHD 3 digits), |Δ| ≤ toleranceMinor; when the two records
//            carry different currencies the amounts must be numerically equal
//   date     truncated to a granularity in a time zone
//   enum     each side's value mapped through that system's value map, then exact
// Defaults: text → text, money fields → money (tolerance 0), other decimals → numeric (exact),
// date → date/day, timestamp → date/second, everything else → exact.
import type { ComparatorConfig, EntityConfig } from '../pipeline/config/schema.js';
import { ENTITY_FIELDS, type Entity, type FieldDef } from '../staging/model/entities.js';

export type SqlValue = string | number | boolean | null;

/** Collects named parameters for one DuckDB statement. */
export class SqlParams {
  readonly values: Record<string, SqlValue> = {};
  private n = 0;
  add(value: SqlValue): string {
    const name = `p${this.n++}`;
    this.values[name] = value;
    return `$${name}`;
  }
}

/** A DuckDB identifier: canonical field names are plain, but quote them anyway. */
export function duckIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Fields that are compared: every canonical field but the link fields and ignored ones. */
export function comparedFields(entity: Entity, cfg: EntityConfig): FieldDef[] {
  const ignored = new Set(['crm_ref', 'erp_ref', ...cfg.ignoreFields]);
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

interface Sides {
  c: string;
  e: string;
  /** Alias of the joined minor_units row (money comparators). */
  mu: string;
  systems: { crm: string; erp: string };
}

/** SQL boolean: the two records' values of `def` are equal under its comparator. Never NULL. */
export function equalExpr(def: FieldDef, cfg: EntityConfig, params: SqlParams, s: Sides): string {
  const cmp = comparatorFor(def, cfg);
  const col = duckIdent(def.name);
  const nulls = cfg.nullEquivalents.map((v) => params.add(v));
  const nv = (x: string) =>
    nulls.length ? `CASE WHEN ${x} IN (${nulls.join(', ')}) THEN NULL ELSE ${x} END` : x;
  const X = `${s.c}.${col}`;
  const Y = `${s.e}.${col}`;
  let expr: string;
  switch (cmp.type) {
    case 'exact':
      expr = `${nv(X)} IS NOT DISTINCT FROM ${nv(Y)}`;
      break;
    case 'text': {
      const norm = (x: string) => {
        let v = cmp.unicode === 'none' ? x : `nfc_normalize(${x})`;
        if (cmp.trim) v = `trim(${v})`;
        if (cmp.collapseSpaces) v = `regexp_replace(${v}, '\\s+', ' ', 'g')`;
        if (cmp.caseFold) v = `lower(${v})`;
        return nv(v);
      };
      expr = `${norm(nv(X))} IS NOT DISTINCT FROM ${norm(nv(Y))}`;
      break;
    }
    case 'numeric': {
      const [a, b] = [nv(X), nv(Y)];
      const [da, db] = [`TRY_CAST(${a} AS DECIMAL(38,12))`, `TRY_CAST(${b} AS DECIMAL(38,12))`];
      const tests = [`${da} = ${db}`];
      if (cmp.absolute !== undefined)
        tests.push(`abs(${da} - ${db}) <= CAST(${params.add(cmp.absolute)} AS DECIMAL(38,12))`);
      if (cmp.relative !== undefined)
        tests.push(`abs(${da} - ${db}) <= ${params.add(cmp.relative)} * greatest(abs(${da}), abs(${db}))`);
      expr = `CASE WHEN ${a} IS NULL OR ${b} IS NULL THEN ${a} IS NULL AND ${b} IS NULL
        WHEN ${da} IS NULL OR ${db} IS NULL THEN ${a} = ${b}
        ELSE (${tests.join(' OR ')}) END`;
      break;
    }
    case 'money': {
      const [a, b] = [nv(X), nv(Y)];
      const [da, db] = [`TRY_CAST(${a} AS DECIMAL(38,12))`, `TRY_CAST(${b} AS DECIMAL(38,12))`];
      const cur = def.currencyField ? duckIdent(def.currencyField) : null;
      const sameCur = cur ? `${s.c}.${cur} IS NOT DISTINCT FROM ${s.e}.${cur}` : 'true';
      const factor = `coalesce(${s.mu}.factor, CAST(100 AS DECIMAL(38,0)))`;
      expr = `CASE WHEN ${a} IS NULL OR ${b} IS NULL THEN ${a} IS NULL AND ${b} IS NULL
        WHEN ${da} IS NULL OR ${db} IS NULL THEN ${a} = ${b}
        WHEN NOT (${sameCur}) THEN ${da} = ${db}
        ELSE abs(round(${da} * ${factor}, 0) - round(${db} * ${factor}, 0)) <= ${params.add(cmp.toleranceMinor)} END`;
      break;
    }
    case 'date': {
      const [a, b] = [nv(X), nv(Y)];
      const zone = params.add(cmp.zone);
      // The granularity is one of a closed zod enum, so it may be SQL text.
      const t = (x: string) =>
        `date_trunc('${cmp.granularity}', timezone(${zone}, TRY_CAST(${x} AS TIMESTAMPTZ)))`;
      expr = `CASE WHEN ${a} IS NULL OR ${b} IS NULL THEN ${a} IS NULL AND ${b} IS NULL
        WHEN TRY_CAST(${a} AS TIMESTAMPTZ) IS NULL OR TRY_CAST(${b} AS TIMESTAMPTZ) IS NULL THEN ${a} = ${b}
        ELSE ${t(a)} = ${t(b)} END`;
      break;
    }
    case 'enum': {
      const mapped = (x: string, system: string) => {
        const map = Object.entries(cmp.valueMap[system] ?? {});
        if (!map.length) return x;
        return `CASE ${x} ${map.map(([from, to]) => `WHEN ${params.add(from)} THEN ${params.add(to)}`).join(' ')} ELSE ${x} END`;
      };
      expr = `${nv(mapped(X, s.systems.crm))} IS NOT DISTINCT FROM ${nv(mapped(Y, s.systems.erp))}`;
      break;
    }
  }
  return `coalesce((${expr}), false)`;
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
  return cmp.valueMap[system]?.[value] ?? value;
}

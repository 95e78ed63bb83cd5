// What one row of a mirror holds for an entity under a tenant's config, and the SQL that turns
// staged rows into mirror rows. Per record and side: source id, the direct-key fields (l_*), the
// normalised business keys (k1…kn), the tombstone flag, staged_seq, the content hash rh computed by
// Postgres, and one 64-bit token (DuckDB's hash) per link column: of the source id (t_sid), of
// each direct-key field (t_l_*) and business key (t_k*). Probing an integer token column costs a
// fraction of probing strings, and a collision only adds a link to a scope (never misses one).
// A delta replaces a record's old version by token, confirmed by a second hash of the id (t_sid2).
// An entity that refers to others (customer_ref…) also keeps the tokens of its references (t_r_*):
// an incremental run finds through them the records whose referenced links changed.
import { quoteIdent } from '../../staging/identifiers.js';
import { ENTITY_FIELDS, type Entity } from '../../staging/model/entities.js';
import { TrueupError } from '../../staging/model/errors.js';
import type { EntityConfig } from '../../staging/model/tenant-config.js';
import { REFERENCES } from '../compare/reference-fields.js';
import { nfkcSql } from '../duckdb/nfkc.js';
import { duckIdent } from '../duckdb/sql-params.js';
import { collapseSql, foldSql, trimSql } from '../duckdb/text-sql.js';
import type { CsvColumn } from '../duckdb/transfer.js';

export const SIDES = ['crm', 'erp'] as const;
export type Side = (typeof SIDES)[number];

/** SQL normalisers of business keys (match.keys[].normalise). */
const NORMALISERS: Record<string, (x: string) => string> = {
  none: (x) => x,
  text: (x) => trimSql(collapseSql(foldSql(nfkcSql(x)))),
  email: (x) => `lower(${trimSql(x)})`,
  tax_id: (x) => `upper(regexp_replace(${x}, '[^A-Za-z0-9]', '', 'g'))`,
  phone: (x) => `regexp_replace(${x}, '[^0-9]', '', 'g')`,
  // Letters, marks and digits of any script (RE2's [:alnum:] is ASCII only: "Müller" and
  // "Möller" would both become "m ller", and a CJK name nothing); anything else separates words.
  name: (x) => trimSql(`regexp_replace(${foldSql(nfkcSql(x))}, '[^\\p{L}\\p{M}\\p{N}]+', ' ', 'g')`),
};

/** SQL: a business key normalised as the mirror holds it (an empty result is no key). */
export const normalisedKeySql = (normalise: string, x: string) =>
  `nullif(${(NORMALISERS[normalise] ?? NORMALISERS.text!)(x)}, '')`;

/** A match config the mirror cannot hold (a key over a field the entity does not have). */
export class MirrorConfigError extends TrueupError {
  override name = 'MirrorConfigError';
  constructor(entity: Entity, field: string) {
    super(`${entity} has no canonical field "${field}" to match on`, {
      kind: 'terminal',
      subject: { entity, field },
    });
  }
}

/** What the mirror holds for an entity under a config: part of its identity. */
export interface MirrorLayout {
  /** Direct-key fields (match.direct), stored raw as l_<field>. */
  links: string[];
  /** Business keys in level order, stored normalised as k1…kn. */
  keys: { field: string; normalise: string }[];
  /** Fields in the content hash: every canonical field but the link fields. */
  hashed: string[];
  /** Reference fields (compare/references.ts), whose tokens are kept; absent when none. */
  refs?: { field: string; list: boolean }[];
}

export function mirrorLayout(entity: Entity, cfg: EntityConfig): MirrorLayout {
  const known = new Set(ENTITY_FIELDS[entity].map((d) => d.name));
  for (const f of [...cfg.match.direct.map((d) => d.field), ...cfg.match.keys.map((k) => k.field)])
    if (!known.has(f)) throw new MirrorConfigError(entity, f);
  return {
    links: [...new Set(cfg.match.direct.map((d) => d.field))],
    keys: cfg.match.keys.map((k) => ({ field: k.field, normalise: k.normalise })),
    hashed: ENTITY_FIELDS[entity].map((d) => d.name).filter((n) => n !== 'crm_ref' && n !== 'erp_ref'),
    ...(REFERENCES[entity].length
      ? { refs: REFERENCES[entity].map((r) => ({ field: r.field, list: r.list })) }
      : {}),
  };
}

export const linkCol = (field: string) => duckIdent(`l_${field}`);
export const keyCol = (level: number) => `k${level}`;
/** Token columns: of the source id, of a direct-key field, of a business key level. */
export const SID_TOKEN = 't_sid';
export const linkToken = (field: string) => duckIdent(`t_l_${field}`);
export const keyToken = (level: number) => `t_k${level}`;
/** The token of a reference field (a list of tokens for a list of references). */
export const refToken = (field: string) => duckIdent(`t_r_${field}`);
const refCsv = (field: string) => duckIdent(`rf_${field}`);

/** SQL: the token of a VARCHAR expression (NULL stays NULL: a missing key links nothing). */
export const tokenSql = (x: string) => `CASE WHEN ${x} IS NULL THEN NULL ELSE hash(${x}) END`;

/** The second hash of the source id (confirms a token match when a delta replaces a row). */
export const SID_CHECK = 't_sid2';
const sidCheckSql = (x: string) => `hash(${x} || chr(31))`;

/** Token column names of a layout, in table order. */
export function tokenColumns(layout: MirrorLayout): string[] {
  return [SID_TOKEN, ...layout.links.map(linkToken), ...layout.keys.map((_k, i) => keyToken(i + 1))];
}

/** Column definitions of the crm/erp mirror tables. */
export function tableColumns(layout: MirrorLayout): string {
  return [
    'source_id VARCHAR',
    ...layout.links.map((f) => `${linkCol(f)} VARCHAR`),
    ...layout.keys.map((_k, i) => `${keyCol(i + 1)} VARCHAR`),
    'deleted BOOLEAN',
    'staged_seq BIGINT',
    'rh BIGINT',
    ...tokenColumns(layout).map((t) => `${t} UBIGINT`),
    `${SID_CHECK} UBIGINT`,
    ...(layout.refs ?? []).map((r) => `${refToken(r.field)} ${r.list ? 'UBIGINT[]' : 'UBIGINT'}`),
  ].join(', ');
}

/** Column definitions of prev_crm/prev_erp: the tokens of replaced versions. */
export function prevColumns(layout: MirrorLayout): string {
  return [...tokenColumns(layout).map((t) => `${t} UBIGINT`), 'at_seq BIGINT'].join(', ');
}

/** The CSV Postgres writes for the mirror (staged-rows.ts narrowSelect), as DuckDB reads it. */
export function csvColumns(layout: MirrorLayout): CsvColumn[] {
  return [
    { name: 'side', duckType: 'VARCHAR' },
    { name: 'source_id', duckType: 'VARCHAR' },
    ...layout.links.map((f) => ({ name: `l_${f}`, duckType: 'VARCHAR' })),
    ...layout.keys.map((_k, i) => ({ name: `r${i + 1}`, duckType: 'VARCHAR' })),
    { name: 'deleted', duckType: 'BOOLEAN' },
    { name: 'staged_seq', duckType: 'BIGINT' },
    { name: 'rh', duckType: 'BIGINT' },
    ...(layout.refs ?? []).map((r) => ({ name: `rf_${r.field}`, duckType: 'VARCHAR' })),
  ];
}

/**
 * DuckDB SELECT turning the CSV rows of `source` (a read_csv call) into `side` plus mirror rows
 * in table order: keys normalised (none for tombstones), tokens computed.
 */
export function mirrorRowsSql(layout: MirrorLayout, source: string): string {
  const base = [
    'side',
    'source_id',
    ...layout.links.map((f) => linkCol(f)),
    ...layout.keys.map((k, i) => {
      const norm = normalisedKeySql(k.normalise, `r${i + 1}`);
      return `CASE WHEN deleted THEN NULL ELSE ${norm} END AS ${keyCol(i + 1)}`;
    }),
    'deleted',
    'staged_seq',
    'rh',
    ...(layout.refs ?? []).map((r) => refCsv(r.field)),
  ];
  const tokens = [
    `${tokenSql('source_id')} AS ${SID_TOKEN}`,
    ...layout.links.map((f) => `${tokenSql(linkCol(f))} AS ${linkToken(f)}`),
    ...layout.keys.map((_k, i) => `${tokenSql(keyCol(i + 1))} AS ${keyToken(i + 1)}`),
    `${sidCheckSql('source_id')} AS ${SID_CHECK}`,
    ...(layout.refs ?? []).map(
      (r) =>
        `${
          r.list
            ? `list_transform(CAST(json_extract_string(${refCsv(r.field)}, '$[*]') AS VARCHAR[]), v -> hash(v))`
            : tokenSql(refCsv(r.field))
        } AS ${refToken(r.field)}`,
    ),
  ];
  const refs = layout.refs?.length ? ` EXCLUDE (${layout.refs.map((r) => refCsv(r.field)).join(', ')})` : '';
  return `SELECT *${refs}, ${tokens.join(', ')} FROM (SELECT ${base.join(', ')} FROM ${source})`;
}

/** Postgres expression of the content hash over the compared fields. */
export function contentHashSql(layout: MirrorLayout): string {
  return `hash_record_extended(ROW(${layout.hashed.map((f) => quoteIdent(f)).join(', ')}), 0)`;
}

/** Postgres select list of the mirror CSV (after the side column), for staging alias-free rows. */
export function narrowColumns(layout: MirrorLayout, hash: string): string[] {
  return [
    'source_id',
    ...layout.links.map((f) => `${quoteIdent(f)}::text`),
    ...layout.keys.map((k) => `${quoteIdent(k.field)}::text`),
    'deleted_at IS NOT NULL',
    'staged_seq',
    hash,
    ...(layout.refs ?? []).map((r) => `${quoteIdent(r.field)}::text`),
  ];
}

/**
 * The Postgres DDL that makes staging store an entity's content hash at write time (a generated
 * column; staged-rows.ts reads it instead of hashing while copying when it matches). Not applied
 * by trueup's migrations: see docs/reconcile.md, "Performance".
 */
export function stagedContentHashDdl(entity: Entity): string {
  const hashed = ENTITY_FIELDS[entity].map((d) => d.name).filter((n) => n !== 'crm_ref' && n !== 'erp_ref');
  return `ALTER TABLE staging.${quoteIdent(entity)} ADD COLUMN content_hash bigint
    GENERATED ALWAYS AS (hash_record_extended(ROW(${hashed.map((f) => quoteIdent(f)).join(', ')}), 0)) STORED`;
}

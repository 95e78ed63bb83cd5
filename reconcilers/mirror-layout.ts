// What one row of a mirror holds for an entity under a tenant's config, and the SQL that turns
// staged rows into mirror rows. Per record and side: source id, the direct-key fields (l_*), the
// normalised business keys (k1…kn), the tombstone flag, staged_seq, the content hash rh computed
// by Postgres, and one 64-bit **token** per link column — DuckDB's hash of the source id (t_sid),
// of each direct-key field (t_l_*) and of each business key (t_k1…).
//
// Why tokens: an incremental run must find the records linked to a few changed ones among
// millions. DuckDB has no index joins, so that is a scan either way; probing an integer column
// costs a fraction of probing a string column. Equal values have equal tokens, so a token join
// finds every link (and, on a 64-bit collision, a spurious extra one). The scope closure (scope.ts)
// only ever grows by tokens — an extra record makes the scope larger, never wrong — and matching
// and the xref links inside a scope join on the string values. Replacing a record's old version
// by a delta is confirmed by a second 64-bit hash of the source id (t_sid2, of the id with a
// separator appended): a wrong replacement needs both hashes of two ids to collide (2⁻¹²⁸ per
// pair, far below the content hash's 2⁻⁶⁴ that the comparison already relies on), and reading
// two integer columns costs half of reading the ids.
import type { EntityConfig } from '../pipeline/config/schema.js';
import { quoteIdent } from '../staging/identifiers.js';
import { ENTITY_FIELDS, type Entity } from '../staging/model/entities.js';
import { duckIdent } from './comparators.js';
import { nfkcSql } from './nfkc.js';
import { collapseSql, foldSql, trimSql } from './text-sql.js';
import type { CsvColumn } from './transfer.js';

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

export class MirrorConfigError extends Error {
  override name = 'MirrorConfigError';
  readonly kind = 'terminal';
}

/** What the mirror holds for an entity under a config: part of its identity. */
export interface MirrorLayout {
  /** Direct-key fields (match.direct), stored raw as l_<field>. */
  links: string[];
  /** Business keys in level order, stored normalised as k1…kn. */
  keys: { field: string; normalise: string }[];
  /** Fields in the content hash: every canonical field but the link fields. */
  hashed: string[];
}

export function mirrorLayout(entity: Entity, cfg: EntityConfig): MirrorLayout {
  const known = new Set(ENTITY_FIELDS[entity].map((d) => d.name));
  for (const f of [...cfg.match.direct.map((d) => d.field), ...cfg.match.keys.map((k) => k.field)])
    if (!known.has(f)) throw new MirrorConfigError(`${entity} has no canonical field "${f}" to match on`);
  return {
    links: [...new Set(cfg.match.direct.map((d) => d.field))],
    keys: cfg.match.keys.map((k) => ({ field: k.field, normalise: k.normalise })),
    hashed: ENTITY_FIELDS[entity].map((d) => d.name).filter((n) => n !== 'crm_ref' && n !== 'erp_ref'),
  };
}

export const linkCol = (field: string) => duckIdent(`l_${field}`);
export const keyCol = (level: number) => `k${level}`;
/** Token columns: of the source id, of a direct-key field, of a business key level. */
export const SID_TOKEN = 't_sid';
export const linkToken = (field: string) => duckIdent(`t_l_${field}`);
export const keyToken = (level: number) => `t_k${level}`;

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
  ].join(', ');
}

/** Column definitions of prev_crm/prev_erp: the tokens of replaced versions. */
export function prevColumns(layout: MirrorLayout): string {
  return [...tokenColumns(layout).map((t) => `${t} UBIGINT`), 'at_seq BIGINT'].join(', ');
}

/** The CSV Postgres writes for the mirror (narrowSelect), as DuckDB reads it. */
export function csvColumns(layout: MirrorLayout): CsvColumn[] {
  return [
    { name: 'side', duckType: 'VARCHAR' },
    { name: 'source_id', duckType: 'VARCHAR' },
    ...layout.links.map((f) => ({ name: `l_${f}`, duckType: 'VARCHAR' })),
    ...layout.keys.map((_k, i) => ({ name: `r${i + 1}`, duckType: 'VARCHAR' })),
    { name: 'deleted', duckType: 'BOOLEAN' },
    { name: 'staged_seq', duckType: 'BIGINT' },
    { name: 'rh', duckType: 'BIGINT' },
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
      const norm = (NORMALISERS[k.normalise] ?? NORMALISERS.text!)(`r${i + 1}`);
      return `CASE WHEN deleted THEN NULL ELSE nullif(${norm}, '') END AS ${keyCol(i + 1)}`;
    }),
    'deleted',
    'staged_seq',
    'rh',
  ];
  const tokens = [
    `${tokenSql('source_id')} AS ${SID_TOKEN}`,
    ...layout.links.map((f) => `${tokenSql(linkCol(f))} AS ${linkToken(f)}`),
    ...layout.keys.map((_k, i) => `${tokenSql(keyCol(i + 1))} AS ${keyToken(i + 1)}`),
    `${sidCheckSql('source_id')} AS ${SID_CHECK}`,
  ];
  return `SELECT *, ${tokens.join(', ')} FROM (SELECT ${base.join(', ')} FROM ${source})`;
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
  ];
}

/**
 * The Postgres DDL that makes staging store an entity's content hash at write time (a generated
 * column; mirror.ts reads it instead of hashing while copying when it matches). Not applied by
 * trueup's migrations: see README, Reconciliation › Performance.
 */
export function stagedContentHashDdl(entity: Entity): string {
  const hashed = ENTITY_FIELDS[entity].map((d) => d.name).filter((n) => n !== 'crm_ref' && n !== 'erp_ref');
  return `ALTER TABLE staging.${quoteIdent(entity)} ADD COLUMN content_hash bigint
    GENERATED ALWAYS AS (hash_record_extended(ROW(${hashed.map((f) => quoteIdent(f)).join(', ')}), 0)) STORED`;
}

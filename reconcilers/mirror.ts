// The local columnar mirror of one tenant × entity: a DuckDB file with one narrow row per staged
// record and side — source id, the direct-key fields, the normalised business keys, the tombstone
// flag, staged_seq, and a 64-bit hash of the record's compared contents computed by Postgres
// (`hash_record_extended` over the canonical fields). Matching runs entirely on this mirror;
// comparison uses the hash to find the few pairs whose contents differ and reads only those
// records in full from staging (wide-rows.ts).
//
// Why narrow: measured on 2M × 2M customers, loading every canonical column into DuckDB cost more
// than the Postgres COPY itself (one string value at a time into compressed column segments),
// while a pair with equal hashes never needs its values. Equal hashes mean equal staged values
// (a false "equal" needs a 64-bit collision, ≈ 5·10⁻²⁰ per differing pair), and equal values are
// equal under every comparator, so the hash filter changes no result.
//
// Refresh by staged_seq delta: rows staged after the mirror's last_seq replace their older
// versions; those older versions are kept in prev_crm/prev_erp until a run has examined them,
// because their old keys point at the records an incremental run must re-examine (scope.ts).
// COPY takes no $n parameters, so values in the COPY queries (validated tenant id, system names,
// integers) are quoted with quoteLiteral and identifiers with quoteIdent.
import { statSync } from 'node:fs';
import type pg from 'pg';
import type { EntityConfig } from '../pipeline/config/schema.js';
import { assertTenantId, quoteIdent, quoteLiteral } from '../staging/identifiers.js';
import { ENTITY_FIELDS, type Entity } from '../staging/model/entities.js';
import { duckIdent } from './comparators.js';
import type { Duck } from './duck.js';
import { duckSql, inDuckTransaction, statements } from './duck.js';
import type { ReconcileJob } from './job-protocol.js';
import { nfkcSql } from './nfkc.js';
import { type CsvColumn, pgToFile, readCsv, type Scratch } from './transfer.js';

const MIRROR_FORMAT = 2;
export const SIDES = ['crm', 'erp'] as const;
export type Side = (typeof SIDES)[number];

/** SQL normalisers of business keys (match.keys[].normalise). */
const NORMALISERS: Record<string, (x: string) => string> = {
  none: (x) => x,
  text: (x) => `lower(regexp_replace(trim(${nfkcSql(x)}), '\\s+', ' ', 'g'))`,
  email: (x) => `lower(trim(${x}))`,
  tax_id: (x) => `upper(regexp_replace(${x}, '[^A-Za-z0-9]', '', 'g'))`,
  phone: (x) => `regexp_replace(${x}, '[^0-9]', '', 'g')`,
  name: (x) =>
    `lower(trim(regexp_replace(regexp_replace(${x}, '[^[:alnum:] ]', ' ', 'g'), '\\s+', ' ', 'g')))`,
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

/** Columns of the crm/erp mirror tables. */
function tableColumns(layout: MirrorLayout): string {
  return [
    'source_id VARCHAR',
    ...layout.links.map((f) => `${linkCol(f)} VARCHAR`),
    ...layout.keys.map((_k, i) => `${keyCol(i + 1)} VARCHAR`),
    'deleted BOOLEAN',
    'staged_seq BIGINT',
    'rh BIGINT',
  ].join(', ');
}

function csvColumns(layout: MirrorLayout): CsvColumn[] {
  return [
    { name: 'source_id', duckType: 'VARCHAR' },
    ...layout.links.map((f) => ({ name: `l_${f}`, duckType: 'VARCHAR' })),
    ...layout.keys.map((_k, i) => ({ name: `r${i + 1}`, duckType: 'VARCHAR' })),
    { name: 'deleted', duckType: 'BOOLEAN' },
    { name: 'staged_seq', duckType: 'BIGINT' },
    { name: 'rh', duckType: 'BIGINT' },
  ];
}

/** DuckDB projection from the CSV columns to a mirror row (keys normalised, none for tombstones). */
function projection(layout: MirrorLayout): string {
  return [
    'source_id',
    ...layout.links.map((f) => linkCol(f)),
    ...layout.keys.map((k, i) => {
      const norm = (NORMALISERS[k.normalise] ?? NORMALISERS.text!)(`r${i + 1}`);
      return `CASE WHEN deleted THEN NULL ELSE nullif(${norm}, '') END AS ${keyCol(i + 1)}`;
    }),
    'deleted',
    'staged_seq',
    'rh',
  ].join(', ');
}

/** The Postgres SELECT of one side's staged rows in mirror CSV layout, for seq in (lo, hi]. */
function narrowSelect(job: ReconcileJob, layout: MirrorLayout, side: Side, lo: bigint, hi: bigint): string {
  assertTenantId(job.tenant);
  const cols = [
    'source_id',
    ...layout.links.map((f) => `${quoteIdent(f)}::text`),
    ...layout.keys.map((k) => `${quoteIdent(k.field)}::text`),
    'deleted_at IS NOT NULL',
    'staged_seq',
    `hash_record_extended(ROW(${layout.hashed.map((f) => quoteIdent(f)).join(', ')}), 0)`,
  ];
  return `SELECT ${cols.join(', ')} FROM staging.${quoteIdent(job.entity)}
    WHERE tenant_id = ${quoteLiteral(job.tenant)} AND system = ${quoteLiteral(job.config.systems[side])}
      AND staged_seq > ${lo.toString()} AND staged_seq <= ${hi.toString()}`;
}

export async function getMeta(duck: Duck, k: string): Promise<string | undefined> {
  const rows = await duck.rows<{ v: string }>('SELECT v FROM meta WHERE k = $k', { k });
  return rows[0]?.v;
}

export async function setMeta(duck: Duck, k: string, v: string): Promise<void> {
  await duck.run('INSERT OR REPLACE INTO meta VALUES ($k, $v)', { k, v });
}

export interface MirrorRefresh {
  cold: boolean;
  /** Staged rows read from Postgres. */
  rowsCopied: number;
  /** Rows in the mirror (both sides). */
  rows: number;
  /** The mirror holds every staged row up to this staged_seq. */
  lastSeq: bigint;
}

/**
 * Brings the mirror up to the staged rows committed now. The changed rows stay in the temp
 * tables d_crm/d_erp (empty after a cold load, when everything is new anyway).
 */
export async function refreshMirror(
  duck: Duck,
  pool: pg.Pool,
  job: ReconcileJob,
  layout: MirrorLayout,
  scratch: Scratch,
): Promise<MirrorRefresh> {
  await duck.run('CREATE TABLE IF NOT EXISTS meta (k VARCHAR PRIMARY KEY, v VARCHAR)');
  const version = await pool.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
  // Hash values are only comparable from the same Postgres major version and mirror layout.
  const identity = JSON.stringify({
    f: MIRROR_FORMAT,
    pg: Math.floor(Number(version.rows[0]?.v ?? 0) / 10_000),
    systems: job.config.systems,
    layout,
  });
  let cold = job.rebuildMirror === true || (await getMeta(duck, 'identity')) !== identity;
  const lastSeq = cold ? 0n : BigInt((await getMeta(duck, 'last_seq')) ?? '0');
  if (lastSeq === 0n) cold = true;
  const slots = { columns: tableColumns(layout) };
  if (cold) {
    for (const s of statements(duckSql('mirror-drop'))) await duck.run(s);
    await duck.run(`DELETE FROM meta WHERE k <> 'identity'`);
  }
  for (const s of statements(duckSql('mirror-schema', slots))) await duck.run(s);

  const { rows } = await pool.query<{ hi: string | null }>(
    `SELECT max(staged_seq)::text AS hi FROM staging.${quoteIdent(job.entity)}
      WHERE tenant_id = $1 AND system = ANY($2) AND staged_seq > $3`,
    [job.tenant, [job.config.systems.crm, job.config.systems.erp], lastSeq.toString()],
  );
  const hi = rows[0]?.hi ? BigInt(rows[0].hi) : lastSeq;
  // Parallel COPY streams: one per side, each split further by staged_seq on a cold load.
  const perSide = cold ? Math.max(1, Math.floor((job.copyRanges ?? 2) / 2)) : 1;
  const files: Record<Side, string[]> = { crm: [], erp: [] };
  if (hi > lastSeq) {
    const parts: { side: Side; lo: bigint; hi: bigint; file: string }[] = [];
    const step = (hi - lastSeq) / BigInt(perSide) + 1n;
    for (const side of SIDES)
      for (let lo = lastSeq; lo < hi; lo += step)
        parts.push({ side, lo, hi: lo + step < hi ? lo + step : hi, file: scratch.file(`mirror-${side}`) });
    await Promise.all(
      parts.map(async (p) => {
        const client = await pool.connect();
        try {
          await pgToFile(client, narrowSelect(job, layout, p.side, p.lo, p.hi), p.file);
        } finally {
          client.release();
        }
        if (statSync(p.file).size > 0) files[p.side].push(p.file);
      }),
    );
  }

  const read = `SELECT ${projection(layout)} FROM ${readCsv(csvColumns(layout))}`;
  await inDuckTransaction(duck, async () => {
    for (const side of SIDES) {
      const f = files[side];
      if (cold) {
        if (f.length) await duck.run(`INSERT INTO ${side} ${read}`, { files: f });
        await duck.run(`CREATE OR REPLACE TEMP TABLE d_${side} AS SELECT * FROM ${side} LIMIT 0`);
      } else {
        if (f.length) await duck.run(`CREATE OR REPLACE TEMP TABLE d_${side} AS ${read}`, { files: f });
        else await duck.run(`CREATE OR REPLACE TEMP TABLE d_${side} AS SELECT * FROM ${side} LIMIT 0`);
        for (const s of statements(duckSql('mirror-apply-delta', { side, seq: hi.toString() })))
          await duck.run(s);
      }
    }
    await setMeta(duck, 'identity', identity);
    await setMeta(duck, 'last_seq', hi.toString());
  });
  const counts = await duck.rows<{ n: bigint; d: bigint }>(
    `SELECT (SELECT count(*) FROM crm) + (SELECT count(*) FROM erp) AS n,
            (SELECT count(*) FROM d_crm) + (SELECT count(*) FROM d_erp) AS d`,
  );
  const rowsCopied = cold ? Number(counts[0]?.n ?? 0) : Number(counts[0]?.d ?? 0);
  return { cold, rowsCopied, rows: Number(counts[0]?.n ?? 0), lastSeq: hi };
}

/**
 * Brings the local copy of the tenant's xref links (this entity and system pair) up to date when
 * Postgres says they changed (count or newest link). Leaves the links that appeared or vanished
 * in the temp table xref_changed (they seed an incremental scope).
 */
export async function syncXref(
  duck: Duck,
  pool: pg.Pool,
  job: ReconcileJob,
  scratch: Scratch,
): Promise<void> {
  const where = `tenant_id = ${quoteLiteral(assertTenantId(job.tenant))} AND entity = ${quoteLiteral(job.entity)}
    AND crm_system = ${quoteLiteral(job.config.systems.crm)} AND erp_system = ${quoteLiteral(job.config.systems.erp)}`;
  const { rows } = await pool.query<{ n: string; m: string | null }>(
    `SELECT count(*)::text AS n, max(created_at)::text AS m FROM control.xref WHERE ${where}`,
  );
  const stamp = `${rows[0]?.n}|${rows[0]?.m}`;
  await duck.run('CREATE OR REPLACE TEMP TABLE xref_changed (crm_id VARCHAR, erp_id VARCHAR)');
  if ((await getMeta(duck, 'xref_stamp')) === stamp) return;
  const file = scratch.file('xref');
  const client = await pool.connect();
  try {
    await pgToFile(client, `SELECT crm_id, erp_id FROM control.xref WHERE ${where}`, file);
  } finally {
    client.release();
  }
  const cols: CsvColumn[] = [
    { name: 'crm_id', duckType: 'VARCHAR' },
    { name: 'erp_id', duckType: 'VARCHAR' },
  ];
  if (statSync(file).size > 0)
    await duck.run(`CREATE OR REPLACE TEMP TABLE xref_new AS SELECT * FROM ${readCsv(cols)}`, {
      files: [file],
    });
  else await duck.run('CREATE OR REPLACE TEMP TABLE xref_new (crm_id VARCHAR, erp_id VARCHAR)');
  await inDuckTransaction(duck, async () => {
    await duck.run(
      `INSERT INTO xref_changed (SELECT * FROM xref_new EXCEPT SELECT * FROM xref)
         UNION ALL (SELECT * FROM xref EXCEPT SELECT * FROM xref_new)`,
    );
    await duck.run('DELETE FROM xref');
    await duck.run('INSERT INTO xref SELECT DISTINCT * FROM xref_new');
    await setMeta(duck, 'xref_stamp', stamp);
  });
}

/** Forgets the older versions a run has examined (all captured by refreshes up to `seq`). */
export async function clearPrev(duck: Duck, seq: bigint): Promise<void> {
  for (const side of SIDES)
    await duck.run(`DELETE FROM prev_${side} WHERE at_seq <= $s`, { s: seq.toString() });
}

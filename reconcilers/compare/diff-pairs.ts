// The comparators at work: of the matched pairs whose live rows differ in some compared field, which
// fields differ under the field's comparator. Identical staged values are equal under every
// comparator, so comparators only run on fields whose raw values differ, prepared per side into
// small temp tables (small statements keep DuckDB's planning time down); only what classification
// and survivorship read comes back to JavaScript, one JSON text per differing pair. The texts stay
// in a DuckDB temp table (numbered) and come back in chunks of a bounded number of pairs, so a run
// where millions of pairs differ never holds them all in JavaScript (issue 13).
import { ENTITY_FIELDS, type Entity } from '../../staging/model/entities.js';
import { minorUnits } from '../../staging/model/money.js';
import type { Duck } from '../duckdb/duck.js';
import { duckIdent, SqlParams } from '../duckdb/sql-params.js';
import type { JobContext } from '../job/job-context.js';
import { comparedFields, equalExpr, LINK_FIELDS, prepColumns } from './comparators.js';
import { WHOLE_AMOUNT } from './whole-amount.js';
import { type MirrorRow, wideRowColumns } from './wide-rows.js';

export interface PairDiff {
  crm: MirrorRow;
  erp: MirrorRow;
  lvl: number;
  fields: string[];
}

/** Fills minor_units with every currency the wide rows hold (JPY 0, USD 2, BHD 3 digits). */
export async function refreshMinorUnits(duck: Duck, entity: Entity, tables: string[]): Promise<void> {
  const curFields = [
    ...new Set(ENTITY_FIELDS[entity].filter((d) => d.currencyField).map((d) => d.currencyField!)),
  ];
  for (const f of curFields) {
    const c = duckIdent(f);
    const rows = await duck.rows<{ c: string }>(
      `SELECT DISTINCT ${c} AS c FROM (${tables.map((t) => `SELECT ${c} FROM ${t}`).join(' UNION ALL ')})
        WHERE ${c} IS NOT NULL AND ${c} NOT IN (SELECT code FROM minor_units)`,
    );
    for (const { c: code } of rows) {
      let digits: number;
      try {
        digits = minorUnits(code.trim());
      } catch {
        continue; // not an ISO code: money comparisons fall back to 2 digits
      }
      await duck.run('INSERT OR REPLACE INTO minor_units VALUES ($c, CAST($f AS DECIMAL(38,0)))', {
        c: code,
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

/** The differing pairs of a pass, kept in DuckDB and read back in chunks. */
export interface DiffSource {
  /** How many pairs differ. */
  count: number;
  /** The differing pairs, at most `size` at a time, each pair exactly once. */
  chunks(size: number): AsyncGenerator<PairDiff[]>;
}

const NO_DIFFS: DiffSource = {
  count: 0,
  async *chunks() {},
};

/**
 * Pairs of `pairs` whose live wide rows differ in at least one compared field, with those fields.
 *
 * Identical staged values are equal under every comparator, so the comparators only ever run on
 * the fields whose raw values differ: a first statement flags them per pair (x_i) and keeps only
 * pairs with a flag; each side's values are then prepared (prepColumns) into a small temp table
 * for the flagged fields only — a CASE evaluates its branch only for the rows that take it — and
 * one comparison joins the prepared rows. Small statements keep DuckDB's planning time down.
 *
 * The differing pairs go to the DuckDB temp table `<o>out` (rn, j), numbered 1…count in the order
 * they were written, and are read back `size` at a time by that number (DuckDB skips the row
 * groups outside a range by their min/max), so a chunk costs one scan of its own rows.
 */
export async function materializeDiffs(
  { duck, job }: Pick<JobContext, 'duck' | 'job'>,
  src: { pairs: string; crm: string; erp: string },
  o: string,
): Promise<DiffSource> {
  const { entity } = job;
  const { entity: cfg, systems } = job.config;
  const fields = comparedFields(entity, cfg);
  if (!fields.length) return NO_DIFFS;
  const col = (a: string, f: string) => `${a}.${duckIdent(f)}`;
  const flags = fields.map((d, i) => `${col('c', d.name)} IS DISTINCT FROM ${col('e', d.name)} AS x_${i}`);
  await duck.run(
    `CREATE OR REPLACE TEMP TABLE cmp_x AS SELECT * FROM (
       SELECT p.crm_id, p.erp_id, p.lvl, ${flags.join(', ')}
         FROM ${src.pairs} p JOIN ${src.crm} c ON c.source_id = p.crm_id JOIN ${src.erp} e ON e.source_id = p.erp_id
        WHERE NOT c.deleted AND NOT e.deleted)
      WHERE ${fields.map((_d, i) => `x_${i}`).join(' OR ')}`,
  );
  // The fields whose raw values differ in some pair: only they are prepared and compared (a
  // nightly change set often touches one or two fields, and each one costs DuckDB planning time).
  const any = await duck.rows<Record<string, boolean | null>>(
    `SELECT ${fields.map((_d, i) => `bool_or(x_${i}) AS a${i}`).join(', ')} FROM cmp_x`,
  );
  const act = fields.map((d, i) => ({ d, i })).filter(({ i }) => any[0]?.[`a${i}`] === true);
  if (!act.length) return NO_DIFFS;
  for (const side of ['crm', 'erp'] as const) {
    const params = new SqlParams();
    const cols = act.map(({ d, i }) => ({ i, name: d.name, ...prepColumns(d, cfg, params, systems[side]) }));
    const name = (f: string, suffix: string) => duckIdent(`${f}__${suffix}`);
    const stage1 = `SELECT w.source_id, x.crm_id AS pair_crm, x.erp_id AS pair_erp, ${cols.map((c) => `x.x_${c.i}`).join(', ')},
        ${cols.map((c) => `CASE WHEN x.x_${c.i} THEN ${c.value} END AS ${name(c.name, 'v')}`).join(', ')}
      FROM ${src[side]} w JOIN cmp_x x ON x.${side}_id = w.source_id`;
    const stage2 = `SELECT *, ${cols.map((c) => `CASE WHEN x_${c.i} THEN ${c.norm} END AS ${name(c.name, 'n')}`).join(', ')}
      FROM (${stage1})`;
    const finish = cols.flatMap((c) => (c.finish ? [`${c.finish} AS ${name(c.name, 'n')}`] : []));
    await duck.run(
      `CREATE OR REPLACE TEMP TABLE prep_${side} AS ${
        finish.length ? `SELECT * REPLACE (${finish.join(', ')}) FROM (${stage2})` : stage2
      }`,
      params.values,
    );
  }
  const params = new SqlParams();
  const diff = act.map(
    ({ d, i }) =>
      `x.x_${i} AND NOT ${equalExpr(d, cfg, params, { c: 'c', e: 'e', cp: 'cp', ep: 'ep', mu: 'mu' })} AS d_${i}`,
  );
  // Only what classification and survivorship read comes back to JavaScript, one JSON text per
  // differing pair: each value crossing from DuckDB separately costs about a microsecond, parsing
  // JSON a fraction of that. Per side: id, version, update time, how many fields the record fills
  // (most_complete), and the values of the differing fields and of the currency fields.
  const all = ENTITY_FIELDS[entity];
  const currencies = new Set(all.flatMap((d) => (d.currencyField ? [d.currencyField] : [])));
  const index = new Map(act.map(({ d, i }) => [d.name, i]));
  // The whole amount too: a record whose sides disagree on its currency has it at stake (materiality).
  const sent = all
    .filter((d) => index.has(d.name) || currencies.has(d.name) || d.name === WHOLE_AMOUNT[entity])
    .map((d) => d.name);
  const values = (a: 'c' | 'e') =>
    `[${sent
      .map((name) => {
        const i = index.get(name);
        const v = `CAST(${duckIdent(`${a}_${name}`)} AS VARCHAR)`;
        return currencies.has(name) || name === WHOLE_AMOUNT[entity] || i === undefined
          ? v
          : `CASE WHEN d_${i} THEN ${v} END`;
      })
      .join(', ')}]`;
  const side = (a: 'c' | 'e') =>
    `'${a}': {'id': ${a}_source_id, 'v': CAST(${a}_version AS VARCHAR), 'u': ${a}_updated_at,
      'n': ${a}_filled, 'f': ${values(a)}}`;
  // A null equivalent ("-", "N/A" when the tenant says so) fills nothing, as for the comparators.
  // The link fields (crm_ref, erp_ref) fill nothing either: usually only one side holds a link,
  // and counting it would hand that side a most_complete tie.
  const nulls = ["''", ...cfg.nullEquivalents.map((v) => params.add(v))].join(', ');
  const filled = (a: 'c' | 'e') =>
    `${all
      .filter((d) => !LINK_FIELDS.has(d.name))
      .map(
        (d) => `(CASE WHEN ${col(a, d.name)} IS NULL OR ${col(a, d.name)} IN (${nulls}) THEN 0 ELSE 1 END)`,
      )
      .join(' + ')} AS ${a}_filled`;
  const out = `${o}out`;
  await duck.run(
    `CREATE OR REPLACE TEMP TABLE ${out} AS SELECT row_number() OVER () AS rn, j FROM (
     SELECT CAST(to_json({'l': lvl, 'd': [${act.map(({ i }) => `d_${i}`).join(', ')}], ${side('c')}, ${side('e')}}) AS VARCHAR) AS j
       FROM (
       SELECT x.lvl, ${diff.join(', ')}, ${wideRowColumns(entity, 'c', 'c_')}, ${wideRowColumns(entity, 'e', 'e_')},
              ${filled('c')}, ${filled('e')}
         FROM cmp_x x JOIN ${src.crm} c ON c.source_id = x.crm_id JOIN ${src.erp} e ON e.source_id = x.erp_id
         JOIN prep_crm cp ON cp.pair_crm = x.crm_id AND cp.pair_erp = x.erp_id
         JOIN prep_erp ep ON ep.pair_crm = x.crm_id AND ep.pair_erp = x.erp_id
         ${moneyJoin(entity, 'c', 'e')})
      WHERE ${act.map(({ i }) => `d_${i}`).join(' OR ')})`,
    params.values,
  );
  const [size] = await duck.rows<{ n: bigint }>(`SELECT count(*) AS n FROM ${out}`);
  const count = Number(size?.n ?? 0);
  interface Sent {
    id: string;
    v: string;
    u: string | null;
    n: number;
    f: (string | null)[];
  }
  const row = (s: 'crm' | 'erp', x: Sent): MirrorRow => {
    const values: Record<string, string | null> = {};
    for (const d of all) values[d.name] = null;
    sent.forEach((name, k) => {
      values[name] = x.f[k] ?? null;
    });
    return {
      side: s,
      source_id: x.id,
      version: BigInt(x.v),
      updated_at: x.u,
      deleted: false,
      fields: values,
      filled: x.n,
    };
  };
  const toDiff = (j: string): PairDiff => {
    const p = JSON.parse(j) as { l: number; d: boolean[]; c: Sent; e: Sent };
    return {
      crm: row('crm', p.c),
      erp: row('erp', p.e),
      lvl: Number(p.l),
      fields: act.filter((_a, k) => p.d[k] === true).map((a) => a.d.name),
    };
  };
  return {
    count,
    async *chunks(size: number) {
      const n = Math.max(1, Math.floor(size));
      for (let from = 0; from < count; from += n) {
        // Integers of our own making, inlined: a parameter would arrive as a DOUBLE.
        const rows = await duck.rows<{ j: string }>(
          `SELECT j FROM ${out} WHERE rn > ${from} AND rn <= ${Math.min(count, from + n)}`,
        );
        yield rows.map((r) => toDiff(r.j));
      }
    },
  };
}

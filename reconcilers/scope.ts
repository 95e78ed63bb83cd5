// The scope of an incremental run (and of in-flight confirmation): the records whose result may
// differ from the last run's, closed under links so that matching inside the scope equals a full
// run's matching for those records.
//
// A record's result depends only on its connected component in the link graph (current links
// and the last run's). Links are functions of both records' staged values (direct keys, business
// keys) or of the xref table, so a link that existed last run but not now has an endpoint that
// changed (or is an xref link that changed). Seeds: records staged since the last run, the older
// versions they replaced (prev_*: their old keys reach the records they used to link to), and the
// endpoints of changed xref links. Then the scope grows by current links until nothing new joins
// — one scan of each side per round, the changed records' neighbours found by set joins.
//
// A component with no record in the scope is exactly as the last run left it, so its open
// discrepancies still hold: lifecycle.ts carries them forward without reading them again.
import type { EntityConfig } from '../pipeline/config/schema.js';
import type { Duck } from './duck.js';
import type { MatchSource } from './matching.js';
import { keyCol, linkCol, type MirrorLayout, SIDES } from './mirror.js';

const MAX_ROUNDS = 1_000;

/** Scope copies of the mirror tables (after `closeScope`). */
export const scopeSource = (p: string): MatchSource => ({
  crm: `${p}s_crm`,
  erp: `${p}s_erp`,
  xref: `${p}s_xref`,
});

/** SQL: records of `side` linked (now) to a record among the frontier rows of the other side. */
function neighbours(cfg: EntityConfig, layout: MirrorLayout, side: 'crm' | 'erp', p: string): string {
  const other = side === 'crm' ? 'erp' : 'crm';
  const f = `${p}f_${other}`;
  const conds: string[] = [];
  for (const d of cfg.match.direct) {
    if (d.side === other) conds.push(`t.source_id IN (SELECT ${linkCol(d.field)} FROM ${f})`);
    else conds.push(`t.${linkCol(d.field)} IN (SELECT source_id FROM ${f})`);
  }
  for (let i = 1; i <= layout.keys.length; i++)
    conds.push(`t.${keyCol(i)} IN (SELECT ${keyCol(i)} FROM ${f} WHERE ${keyCol(i)} IS NOT NULL)`);
  conds.push(
    `t.source_id IN (SELECT x.${side}_id FROM xref x WHERE x.${other}_id IN (SELECT source_id FROM ${f}))`,
  );
  return `SELECT t.* FROM ${side} t WHERE t.source_id NOT IN (SELECT source_id FROM ${p}sc_${side})
    AND (${conds.join(' OR ')})`;
}

/** Where a scope starts. */
export interface ScopeSeeds {
  /** SQL of the seeds' current rows of a side. */
  current(side: 'crm' | 'erp'): string;
  /** SQL of older versions of a side's seeds (first round only), if any. */
  old?(side: 'crm' | 'erp'): string;
}

/**
 * Grows the seed rows into a closed scope: its ids in `<p>sc_crm` / `<p>sc_erp`, its records and
 * links in `<p>s_crm`, `<p>s_erp`, `<p>s_xref`. Older versions among the seed rows take part in
 * the first round only (they find old partners; they are not records of the scope). Returns the
 * scope's size.
 */
export async function closeScope(
  duck: Duck,
  cfg: EntityConfig,
  layout: MirrorLayout,
  p: string,
  seeds: ScopeSeeds,
): Promise<{ crm: number; erp: number }> {
  for (const side of SIDES) {
    await duck.run(
      `CREATE OR REPLACE TEMP TABLE ${p}s_${side} AS SELECT DISTINCT * FROM (${seeds.current(side)})`,
    );
    await duck.run(
      `CREATE OR REPLACE TEMP TABLE ${p}sc_${side} AS SELECT DISTINCT source_id FROM ${p}s_${side}`,
    );
    const old = seeds.old ? `UNION ALL ${seeds.old(side)}` : '';
    await duck.run(`CREATE OR REPLACE TEMP TABLE ${p}f_${side} AS SELECT * FROM ${p}s_${side} ${old}`);
  }
  for (let round = 0; ; round++) {
    if (round >= MAX_ROUNDS) throw new Error(`incremental scope did not close after ${MAX_ROUNDS} rounds`);
    for (const side of SIDES)
      await duck.run(`CREATE OR REPLACE TEMP TABLE ${p}n_${side} AS ${neighbours(cfg, layout, side, p)}`);
    const found = await duck.rows<{ c: bigint; e: bigint }>(
      `SELECT (SELECT count(*) FROM ${p}n_crm) AS c, (SELECT count(*) FROM ${p}n_erp) AS e`,
    );
    if (!Number(found[0]?.c) && !Number(found[0]?.e)) break;
    for (const side of SIDES) {
      await duck.run(`INSERT INTO ${p}sc_${side} SELECT source_id FROM ${p}n_${side}`);
      await duck.run(`INSERT INTO ${p}s_${side} SELECT * FROM ${p}n_${side}`);
      await duck.run(`CREATE OR REPLACE TEMP TABLE ${p}f_${side} AS SELECT * FROM ${p}n_${side}`);
    }
  }
  const s = scopeSource(p);
  await duck.run(
    `CREATE OR REPLACE TEMP TABLE ${s.xref} AS SELECT * FROM xref
      WHERE crm_id IN (SELECT source_id FROM ${p}sc_crm) AND erp_id IN (SELECT source_id FROM ${p}sc_erp)`,
  );
  const size = await duck.rows<{ c: bigint; e: bigint }>(
    `SELECT (SELECT count(*) FROM ${p}sc_crm) AS c, (SELECT count(*) FROM ${p}sc_erp) AS e`,
  );
  return { crm: Number(size[0]?.c ?? 0), erp: Number(size[0]?.e ?? 0) };
}

/**
 * Seeds of an incremental run: the current versions of records staged since the last run (found
 * through staged_seq, which DuckDB answers from its zone maps without a scan), the older versions
 * they replaced, and the records of xref links that changed (`xrefChanged`: any at all).
 */
export function incrementalSeeds(lastRunSeq: bigint, xrefChanged: boolean): ScopeSeeds {
  return {
    current: (side) =>
      `SELECT * FROM ${side} WHERE staged_seq > ${lastRunSeq.toString()}` +
      (xrefChanged
        ? ` UNION SELECT * FROM ${side} WHERE source_id IN (SELECT ${side}_id FROM xref_changed)`
        : ''),
    old: (side) => `SELECT * EXCLUDE (at_seq) FROM prev_${side}`,
  };
}

/** Seeds of a confirmation: the current rows of the records in `<p>ids_<side>`. */
export function idSeeds(p: string): ScopeSeeds {
  return {
    current: (side) => `SELECT * FROM ${side} WHERE source_id IN (SELECT source_id FROM ${p}ids_${side})`,
  };
}

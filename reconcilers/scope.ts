// The scope of an incremental run (and of in-flight confirmation): the records whose result may
// differ from the last run's, closed under links so that matching inside the scope equals a full
// run's matching for those records.
//
// A record's result depends only on its connected component in the link graph (current links
// and the last run's). Links are functions of both records' staged values (direct keys, business
// keys) or of the xref table, so a link that existed last run but not now has an endpoint that
// changed (or is an xref link that changed). Seeds: records staged since the last run, the older
// versions they replaced (tprev_*/prev_*: their old keys reach the records they used to link to), and the
// endpoints of changed xref links. Then the scope grows by current links until nothing new joins.
//
// Cost: each round probes the mirror's integer token columns (mirror-layout.ts) with the tokens
// of the round's new records — one scan of a few integer columns per side, reading row ids only;
// full rows are fetched only for records not yet in the scope, and a side is not scanned at all
// when the other side brought nothing new. Tokens can only over-approximate links (a 64-bit
// collision links two unrelated records): the scope may then hold a few extra records, closed
// like the rest, which a full run would decide the same way; it never misses one. Membership is
// decided by row id, so exactly.
//
// A component with no record in the scope is exactly as the last run left it, so its open
// discrepancies still hold: lifecycle.ts carries them forward without reading them again.
// Row ids are only used inside one closeScope call, between a refresh and the next write.
import type { EntityConfig } from '../pipeline/config/schema.js';
import type { Duck } from './duck.js';
import type { MatchSource } from './matching.js';
import {
  keyToken,
  linkToken,
  type MirrorLayout,
  SID_TOKEN,
  SIDES,
  type Side,
  tokenColumns,
  tokenSql,
} from './mirror-layout.js';
import type { PhaseClock } from './phase-clock.js';

const MAX_ROUNDS = 1_000;

/** Scope copies of the mirror tables (after `closeScope`). */
export const scopeSource = (p: string): MatchSource => ({
  crm: `${p}s_crm`,
  erp: `${p}s_erp`,
  xref: `${p}s_xref`,
});

const otherSide = (s: Side): Side => (s === 'crm' ? 'erp' : 'crm');

/**
 * SQL predicate over the mirror table of `side`: linked by some token to a record whose tokens
 * are in the frontier table `f` of the other side.
 */
function linkedTo(cfg: EntityConfig, layout: MirrorLayout, side: Side, f: string): string {
  const other = otherSide(side);
  const sidFrom = [
    ...cfg.match.direct.filter((d) => d.side === other).map((d) => `SELECT ${linkToken(d.field)} FROM ${f}`),
    `SELECT x.t_${side} FROM xref x WHERE x.t_${other} IN (SELECT ${SID_TOKEN} FROM ${f})`,
  ];
  const conds = [`${SID_TOKEN} IN (${[...new Set(sidFrom)].join(' UNION ALL ')})`];
  for (const field of new Set(cfg.match.direct.filter((d) => d.side === side).map((d) => d.field)))
    conds.push(`${linkToken(field)} IN (SELECT ${SID_TOKEN} FROM ${f})`);
  for (let i = 1; i <= layout.keys.length; i++)
    conds.push(`${keyToken(i)} IN (SELECT ${keyToken(i)} FROM ${f})`);
  return conds.join(' OR ');
}

/** Where a scope starts. */
export interface ScopeSeeds {
  /** SQL predicate over the mirror table of a side selecting its seed records (a superset is fine). */
  current(side: Side): string;
  /** SQL selecting the token columns of older versions of a side's seeds (first round only). */
  old?(side: Side): string;
}

async function count(duck: Duck, table: string): Promise<number> {
  const r = await duck.rows<{ n: bigint }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(r[0]?.n ?? 0);
}

/**
 * Grows the seed records into a closed scope: its records (with their row ids) in `<p>s_crm` /
 * `<p>s_erp`, the xref links among them in `<p>s_xref`. Older versions among the seeds take part
 * in the first round only (they find old partners; they are not records of the scope). Returns
 * the scope's size.
 */
export async function closeScope(
  duck: Duck,
  cfg: EntityConfig,
  layout: MirrorLayout,
  p: string,
  seeds: ScopeSeeds,
  clock?: PhaseClock,
): Promise<{ crm: number; erp: number }> {
  const tokens = tokenColumns(layout).join(', ');
  const frontier: Record<Side, number> = { crm: 0, erp: 0 };
  for (const side of SIDES) {
    await duck.run(
      `CREATE OR REPLACE TEMP TABLE ${p}s_${side} AS SELECT rowid AS rid, * FROM ${side} WHERE ${seeds.current(side)}`,
    );
    const old = seeds.old ? `UNION ALL ${seeds.old(side)}` : '';
    await duck.run(
      `CREATE OR REPLACE TEMP TABLE ${p}f_${side} AS SELECT ${tokens} FROM ${p}s_${side} ${old}`,
    );
    frontier[side] = await count(duck, `${p}f_${side}`);
  }
  clock?.mark('scope.seeds');
  for (let round = 0; frontier.crm || frontier.erp; round++) {
    if (round >= MAX_ROUNDS) throw new Error(`incremental scope did not close after ${MAX_ROUNDS} rounds`);
    const found: Record<Side, number> = { crm: 0, erp: 0 };
    for (const side of SIDES) {
      const other = otherSide(side);
      if (!frontier[other]) continue;
      // Row ids only: a scan of integer columns. Rows already in the scope drop out exactly.
      await duck.run(
        `CREATE OR REPLACE TEMP TABLE ${p}n_${side} AS
           SELECT rowid AS rid FROM ${side} WHERE ${linkedTo(cfg, layout, side, `${p}f_${other}`)}
           EXCEPT SELECT rid FROM ${p}s_${side}`,
      );
      found[side] = await count(duck, `${p}n_${side}`);
    }
    for (const side of SIDES) {
      if (!found[side]) {
        await duck.run(
          `CREATE OR REPLACE TEMP TABLE ${p}f_${side} AS SELECT ${tokens} FROM ${p}s_${side} LIMIT 0`,
        );
        continue;
      }
      await duck.run(
        `CREATE OR REPLACE TEMP TABLE ${p}f_${side} AS
           SELECT rowid AS rid, * FROM ${side} WHERE rowid IN (SELECT rid FROM ${p}n_${side})`,
      );
      await duck.run(`INSERT INTO ${p}s_${side} SELECT * FROM ${p}f_${side}`);
    }
    frontier.crm = found.crm;
    frontier.erp = found.erp;
    clock?.mark('scope.rounds');
  }
  // The xref links among scope records; matching joins them to the records by id, exactly.
  const s = scopeSource(p);
  await duck.run(
    `CREATE OR REPLACE TEMP TABLE ${s.xref} AS SELECT crm_id, erp_id FROM xref
      WHERE t_crm IN (SELECT ${SID_TOKEN} FROM ${p}s_crm) AND t_erp IN (SELECT ${SID_TOKEN} FROM ${p}s_erp)`,
  );
  const size = { crm: await count(duck, `${p}s_crm`), erp: await count(duck, `${p}s_erp`) };
  clock?.mark('scope.finish');
  return size;
}

/**
 * Seeds of an incremental run: the current versions of records staged since the last run (found
 * through staged_seq, which DuckDB answers from its zone maps without a scan), the older versions
 * they replaced, and the records of xref links that changed (`xrefChanged`: any at all).
 */
export function incrementalSeeds(lastRunSeq: bigint, xrefChanged: boolean): ScopeSeeds {
  return {
    current: (side) =>
      `staged_seq > ${lastRunSeq.toString()}` +
      (xrefChanged ? ` OR ${SID_TOKEN} IN (SELECT ${tokenSql(`${side}_id`)} FROM xref_changed)` : ''),
    old: (side) =>
      `SELECT * EXCLUDE (at_seq) FROM prev_${side} UNION ALL SELECT * EXCLUDE (at_seq) FROM tprev_${side}`,
  };
}

/** Seeds of a confirmation: the current rows of the records in `<p>ids_<side>`. */
export function idSeeds(p: string): ScopeSeeds {
  return {
    current: (side) => `${SID_TOKEN} IN (SELECT ${tokenSql('source_id')} FROM ${p}ids_${side})`,
  };
}

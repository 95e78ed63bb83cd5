// The scope of an incremental run (and of in-flight confirmation): the records whose result may
// differ from the last run's, closed under links so that matching inside it equals a full run's.
// Seeds: records staged since the last run, the older versions they replaced (their old keys reach
// their old partners) and the endpoints of changed xref links — and, for issue 12, the records an
// open dead letter links to, those of live unverifiable discrepancies (dead-letters.ts) and those
// whose referenced links changed (reference-scope.ts); the scope then grows by current links
// until nothing new joins, probing the mirror's integer token columns (a collision only adds records,
// never misses one). A component with no record in the scope is as the last run left it: its open
// discrepancies are carried forward (docs/reconcile.md, "Incremental runs").
import type { EntityConfig } from '../../staging/model/tenant-config.js';
import type { Duck } from '../duckdb/duck.js';
import type { JobContext } from '../job/job-context.js';
import type { PhaseClock } from '../job/phase-clock.js';
import {
  keyToken,
  linkToken,
  type MirrorLayout,
  SID_TOKEN,
  SIDES,
  type Side,
  tokenColumns,
  tokenSql,
} from '../mirror/mirror-layout.js';
import type { MatchSource } from './match-source.js';

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
export function linkedTo(cfg: EntityConfig, layout: MirrorLayout, side: Side, f: string): string {
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
  { duck, job, layout }: JobContext,
  p: string,
  seeds: ScopeSeeds,
  clock?: PhaseClock,
): Promise<{ crm: number; erp: number }> {
  const cfg = job.config.entity;
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
 * they replaced, the records of xref links that changed (`xrefChanged`: any at all), and the
 * records the predicates of `extra` select.
 */
export function incrementalSeeds(
  lastRunSeq: bigint,
  xrefChanged: boolean,
  extra: (side: Side) => readonly string[] = () => [],
): ScopeSeeds {
  return {
    current: (side) =>
      `staged_seq > ${lastRunSeq.toString()}` +
      (xrefChanged ? ` OR ${SID_TOKEN} IN (SELECT ${tokenSql(`${side}_id`)} FROM xref_changed)` : '') +
      extra(side)
        .map((p) => ` OR (${p})`)
        .join(''),
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

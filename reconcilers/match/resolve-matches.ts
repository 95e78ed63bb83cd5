// Matching one tenant × entity inside the mirror, set-based: one join per link kind and level. Level
// 0 holds the explicit links (xref, direct keys); level i ≥ 1 the i-th business key among records
// not claimed lower. A live record with several live partners at its level is a duplicate_match;
// tombstones take part in explicit links only and never count as a second partner. Runs over the
// whole mirror or over an incremental scope closed under links (scope.ts), with the same result
// inside the scope. Outputs (temp tables, `<o>` = prefix): `<o>m` every link at its level with both
// records' tombstone flags and hashes, `<o>pairs` the one-to-one links (and, where the entity's
// `match.allowMany` names a side, the links of several records of that side to one record), `<o>dups` (side, id,
// partners), `<o>lone` (side, source_id) of live records no link claimed, `<o>lone_dl` those of them
// an open dead letter of the other side links to (dead-letters.ts: unverifiable, not missing).
import type { EntityConfig } from '../../staging/model/tenant-config.js';
import { duckSql, statements } from '../duckdb/sql-file.js';
import type { JobContext } from '../job/job-context.js';
import { keyCol, linkCol } from '../mirror/mirror-layout.js';
import { markDeadLettered } from './dead-letters.js';
import type { MatchSource } from './match-source.js';

export { type MatchSource, MIRROR_SOURCE } from './match-source.js';

const other = (side: 'crm' | 'erp') => (side === 'crm' ? 'erp' : 'crm');

const LINK_COLUMNS = 'c.source_id AS crm_id, e.source_id AS erp_id';
const FLAG_COLUMNS = 'c.deleted AS cdel, e.deleted AS edel, c.rh AS crh, e.rh AS erh';

/**
 * Level-0 links. Each direct key yields distinct pairs by itself (a record holds one value of the
 * field, a source id names one record), and each piece leaves out the pairs an earlier piece
 * found, so a UNION ALL needs no DISTINCT over millions of rows.
 */
function explicitLinks(cfg: EntityConfig, src: MatchSource): string {
  const covered: string[] = [];
  const pieces: string[] = [];
  const not = () =>
    covered.length ? `AND NOT (${covered.map((c) => `coalesce(${c}, false)`).join(' OR ')})` : '';
  for (const d of cfg.match.direct) {
    const [on, cond] =
      d.side === 'crm'
        ? [
            `${src.crm} c JOIN ${src.erp} e ON e.source_id = c.${linkCol(d.field)}`,
            `c.${linkCol(d.field)} = e.source_id`,
          ]
        : [
            `${src.erp} e JOIN ${src.crm} c ON c.source_id = e.${linkCol(d.field)}`,
            `e.${linkCol(d.field)} = c.source_id`,
          ];
    if (covered.includes(cond)) continue;
    pieces.push(`SELECT ${LINK_COLUMNS}, 0 AS lvl, ${FLAG_COLUMNS} FROM ${on} WHERE true ${not()}`);
    covered.push(cond);
  }
  pieces.push(
    `SELECT ${LINK_COLUMNS}, 0 AS lvl, ${FLAG_COLUMNS}
       FROM ${src.xref} x JOIN ${src.crm} c ON c.source_id = x.crm_id JOIN ${src.erp} e ON e.source_id = x.erp_id
      WHERE true ${not()}`,
  );
  return pieces.join('\nUNION ALL\n');
}

/** Resolves links into `<o>m`, `<o>pairs`, `<o>dups`, `<o>lone` and `<o>lone_dl`. */
export async function resolveMatches(
  { duck, job, layout, deadLetters }: JobContext,
  src: MatchSource,
  o: string,
): Promise<void> {
  const cfg = job.config.entity;
  await duck.run(`CREATE OR REPLACE TEMP TABLE ${o}m AS ${explicitLinks(cfg, src)}`);
  // With match.allowMany, a record of the other side may be claimed again by a record of the
  // allowed side (several CRM records find one ERP record by its tax id); records of the allowed
  // side are still claimed once, at their lowest level.
  const unclaimed = [
    ...(cfg.match.allowMany === 'erp' ? [] : [`c.source_id NOT IN (SELECT crm_id FROM ${o}m)`]),
    ...(cfg.match.allowMany === 'crm' ? [] : [`e.source_id NOT IN (SELECT erp_id FROM ${o}m)`]),
  ];
  for (let i = 1; i <= layout.keys.length; i++) {
    const k = keyCol(i);
    await duck.run(
      `INSERT INTO ${o}m SELECT ${LINK_COLUMNS}, ${i}, ${FLAG_COLUMNS}
         FROM ${src.crm} c JOIN ${src.erp} e ON c.${k} = e.${k}
        WHERE ${unclaimed.join(' AND ')}`,
    );
  }
  // Tombstone links are few, often none: then nothing is dropped and no anti-join is needed.
  const tomb = await duck.rows<{ n: bigint }>(`SELECT count(*) AS n FROM ${o}m WHERE cdel <> edel`);
  const anyTomb = Number(tomb[0]?.n ?? 0) > 0;
  if (anyTomb) for (const s of statements(duckSql('match-tombstone-links', { o }))) await duck.run(s);
  const stands = anyTomb
    ? `AND NOT EXISTS (SELECT 1 FROM ${o}m_drop d WHERE d.crm_id = x.crm_id AND d.erp_id = x.erp_id)`
    : '';
  for (const s of statements(duckSql('match-resolve', { o, stands, crm: src.crm, erp: src.erp }))) {
    await duck.run(s);
    // match.allowMany: a record of the other side with several live partners of the allowed side
    // is no duplicate_match: each of its links becomes a pair (compared with that one record). A
    // record of the allowed side with several partners still is one.
    if (cfg.match.allowMany && s.includes(`TEMP TABLE ${o}multi `))
      await duck.run(`DELETE FROM ${o}multi WHERE side = '${other(cfg.match.allowMany)}'`);
  }
  await markDeadLettered(duck, cfg, layout, src, o, deadLetters);
}

// Matching one tenant × entity inside the mirror, set-based: one join per link kind and level, no
// per-record work. Level 0 holds the explicit links — the xref table and the direct keys (a CRM
// field holding the ERP id, or the reverse); level i ≥ 1 the i-th business key, among records not
// claimed at a lower level. A live record with several live partners at its level is a
// duplicate_match and claims them all; one-to-one links become pairs. Tombstones take part in
// explicit links only (their keys are null), so deleted_in_one is seen; they never count as a
// second partner and are never a duplicate_match themselves (see resolveMatches).
//
// The same statements run over the whole mirror (full run) or over an incremental scope closed
// under links (scope.ts), whose result inside the scope equals a full run's.
//
// Outputs (temp tables, `<o>` = output prefix):
//   <o>m      every link at the level that claimed it, with both records' tombstone flags and hashes
//   <o>pairs  the one-to-one links
//   <o>dups   (side, id, partners) of live records with several live partners
//   <o>lone   (side, source_id) of live records that no link claimed
import type { EntityConfig } from '../pipeline/config/schema.js';
import type { Duck } from './duck.js';
import { keyCol, linkCol, type MirrorLayout } from './mirror-layout.js';

/** Where the records and links come from: the mirror (crm, erp, xref) or a scope's copies. */
export interface MatchSource {
  crm: string;
  erp: string;
  xref: string;
}

export const MIRROR_SOURCE: MatchSource = { crm: 'crm', erp: 'erp', xref: 'xref' };

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

/** Resolves links into `<o>m`, `<o>pairs`, `<o>dups` and `<o>lone`. */
export async function resolveMatches(
  duck: Duck,
  cfg: EntityConfig,
  layout: MirrorLayout,
  src: MatchSource,
  o = '',
): Promise<void> {
  await duck.run(`CREATE OR REPLACE TEMP TABLE ${o}m AS ${explicitLinks(cfg, src)}`);
  for (let i = 1; i <= layout.keys.length; i++) {
    const k = keyCol(i);
    await duck.run(
      `INSERT INTO ${o}m SELECT ${LINK_COLUMNS}, ${i}, ${FLAG_COLUMNS}
         FROM ${src.crm} c JOIN ${src.erp} e ON c.${k} = e.${k}
        WHERE c.source_id NOT IN (SELECT crm_id FROM ${o}m) AND e.source_id NOT IN (SELECT erp_id FROM ${o}m)`,
    );
  }
  // Tombstones. Only live partners count: a live record with several is a duplicate_match; a
  // deleted record never is. A live record's links to tombstones stand only when it has no live
  // partner (then each is a deleted_in_one pair): when ERP deletes E1 and re-creates E2, both
  // pointing at C1, the live pair C1/E2 is compared and the tombstone E1 is not reported. A
  // deleted record linked to two live ones is two deleted_in_one pairs (links between two
  // tombstones are pairs deleted on both sides, which are not reported).
  // A record is claimed at exactly one level, so counting over all of <o>m counts its level.
  const live = 'NOT cdel AND NOT edel';
  await duck.run(
    `CREATE OR REPLACE TEMP TABLE ${o}multi AS
       SELECT 'crm' AS side, crm_id AS id FROM ${o}m WHERE ${live} GROUP BY crm_id HAVING count(*) > 1
       UNION ALL SELECT 'erp', erp_id FROM ${o}m WHERE ${live} GROUP BY erp_id HAVING count(*) > 1`,
  );
  // Links from a tombstone to a live record that has a live partner do not stand. Tombstone links
  // are few, often none: then nothing is dropped and the statements below need no anti-join.
  // Otherwise the joins start from those few links (DuckDB builds its hash table on the smaller
  // side of an inner join), not from the millions of live ones.
  const tomb = await duck.rows<{ n: bigint }>(`SELECT count(*) AS n FROM ${o}m WHERE cdel <> edel`);
  const anyTomb = Number(tomb[0]?.n ?? 0) > 0;
  if (anyTomb)
    await duck.run(
      `CREATE OR REPLACE TEMP TABLE ${o}m_drop AS
         SELECT DISTINCT t.crm_id, t.erp_id FROM (SELECT crm_id, erp_id FROM ${o}m WHERE edel AND NOT cdel) t
           JOIN (SELECT crm_id FROM ${o}m WHERE ${live}) l ON l.crm_id = t.crm_id
         UNION ALL
         SELECT DISTINCT t.crm_id, t.erp_id FROM (SELECT crm_id, erp_id FROM ${o}m WHERE cdel AND NOT edel) t
           JOIN (SELECT erp_id FROM ${o}m WHERE ${live}) l ON l.erp_id = t.erp_id`,
    );
  const stands = anyTomb
    ? `AND NOT EXISTS (SELECT 1 FROM ${o}m_drop d WHERE d.crm_id = x.crm_id AND d.erp_id = x.erp_id)`
    : '';
  await duck.run(
    `CREATE OR REPLACE TEMP TABLE ${o}pairs AS SELECT * FROM ${o}m x
      WHERE crm_id NOT IN (SELECT id FROM ${o}multi WHERE side = 'crm')
        AND erp_id NOT IN (SELECT id FROM ${o}multi WHERE side = 'erp') ${stands}`,
  );
  await duck.run(
    `CREATE OR REPLACE TEMP TABLE ${o}dups AS
       SELECT 'crm' AS side, crm_id AS id, list(erp_id ORDER BY erp_id) AS partners FROM ${o}m x
        WHERE crm_id IN (SELECT id FROM ${o}multi WHERE side = 'crm') ${stands} GROUP BY crm_id
       UNION ALL
       SELECT 'erp', erp_id, list(crm_id ORDER BY crm_id) FROM ${o}m x
        WHERE erp_id IN (SELECT id FROM ${o}multi WHERE side = 'erp') ${stands} GROUP BY erp_id`,
  );
  await duck.run(
    `CREATE OR REPLACE TEMP TABLE ${o}lone AS
       SELECT 'crm' AS side, source_id FROM ${src.crm} WHERE NOT deleted AND source_id NOT IN (SELECT crm_id FROM ${o}m)
       UNION ALL
       SELECT 'erp', source_id FROM ${src.erp} WHERE NOT deleted AND source_id NOT IN (SELECT erp_id FROM ${o}m)`,
  );
}

// Candidate matches for records that matched nothing: unmatched records of the other side with
// the same normalised email, tax id, name, number or sku. Listed as suggestions on the
// missing_in_* discrepancy (for `trueup xref link`), never linked silently. One equi-join on
// (field, normalised value) — linear in the unmatched records, not quadratic.
import { ENTITY_FIELDS, type Entity } from '../staging/model/entities.js';
import { duckIdent } from './comparators.js';
import type { Duck } from './duck.js';
import { foldSql } from './text-sql.js';

const HINT_FIELDS = ['email', 'tax_id', 'name', 'number', 'sku'];

/** Suggestions keyed by match key (`C:<id>` / `E:<id>`), from the lone records' wide rows. */
export async function suggestCandidates(
  duck: Duck,
  entity: Entity,
  lone: string,
  wide: { crm: string; erp: string },
): Promise<Map<string, string[]>> {
  const fields = ENTITY_FIELDS[entity].filter((d) => HINT_FIELDS.includes(d.name)).map((d) => d.name);
  const out = new Map<string, string[]>();
  if (!fields.length) return out;
  // Letters, marks and digits of any script ([:alnum:] is ASCII only in RE2), case-folded.
  const norm = (x: string) =>
    `nullif(${foldSql(`regexp_replace(${x}, '[^\\p{L}\\p{M}\\p{N}@.]+', '', 'g')`)}, '')`;
  const hints = fields
    .map((f) => `SELECT r.side, r.source_id, '${f}' AS field, ${norm(`r.${duckIdent(f)}`)} AS v FROM u r`)
    .join(' UNION ALL ');
  const rows = await duck.rows<{ side: string; id: string; candidates: string[] }>(
    `WITH u AS (SELECT r.* FROM ${lone} l JOIN (SELECT * FROM ${wide.crm} UNION ALL SELECT * FROM ${wide.erp}) r
                  ON r.side = l.side AND r.source_id = l.source_id),
          h AS (SELECT * FROM (${hints}) WHERE v IS NOT NULL)
     SELECT a.side, a.source_id AS id, list(DISTINCT b.source_id ORDER BY b.source_id)[1:5] AS candidates
       FROM h a JOIN h b ON a.field = b.field AND a.v = b.v AND a.side <> b.side
      GROUP BY a.side, a.source_id`,
  );
  for (const r of rows) out.set(`${r.side === 'crm' ? 'C' : 'E'}:${r.id}`, [...r.candidates]);
  return out;
}

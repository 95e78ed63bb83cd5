// Candidate matches for records that matched nothing: unmatched records of the other side with
// the same normalised email, tax id, name, number or sku. Listed as suggestions on the
// missing_in_* discrepancy (for `trueup xref link`), never linked silently.
import { ENTITY_FIELDS, type Entity } from '../staging/model/entities.js';
import { duckIdent } from './comparators.js';
import type { Duck } from './duck.js';

const HINT_FIELDS = ['email', 'tax_id', 'name', 'number', 'sku'];

export async function suggestCandidates(duck: Duck, entity: Entity): Promise<Map<string, string[]>> {
  const fields = ENTITY_FIELDS[entity]
    .filter((d) => HINT_FIELDS.includes(d.name))
    .map((d) => duckIdent(d.name));
  const out = new Map<string, string[]>();
  if (!fields.length) return out;
  const norm = (x: string) => `nullif(lower(regexp_replace(trim(${x}), '[^[:alnum:]@.]+', '', 'g')), '')`;
  const cond = fields.map((f) => `${norm(`a.${f}`)} = ${norm(`b.${f}`)}`).join(' OR ');
  const rows = await duck.rows<{ side: string; id: string; candidates: string[] }>(
    `WITH u AS (SELECT r.* FROM lone l JOIN rec r ON r.side = l.side AND r.source_id = l.source_id)
     SELECT a.side, a.source_id AS id, list(DISTINCT b.source_id ORDER BY b.source_id)[1:5] AS candidates
       FROM u a JOIN u b ON a.side <> b.side AND (${cond}) GROUP BY a.side, a.source_id`,
  );
  for (const r of rows) out.set(`${r.side === 'crm' ? 'C' : 'E'}:${r.id}`, [...r.candidates]);
  return out;
}

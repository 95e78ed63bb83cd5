// Candidate matches for records that matched nothing: unmatched records of the other side with the
// same normalised email, tax id, name, number or sku, listed on the missing_in_* discrepancy (for
// `trueup xref link`), never linked silently. Linear in the unmatched records, in JavaScript over
// their rows (read anyway): as a DuckDB query it cost 60–80 ms a run, compiling the Unicode-class
// regular expression once per use.
import { ENTITY_FIELDS, type Entity } from '../../staging/model/entities.js';
import type { MirrorRow } from '../compare/wide-rows.js';
import { caseFold } from '../duckdb/text-sql.js';

const HINT_FIELDS = ['email', 'tax_id', 'name', 'number', 'sku'];
/** At most this many candidates per record, the first ones in id order. */
const MAX_CANDIDATES = 5;

/** Letters, marks and digits of any script, '@' and '.', case-folded; null when nothing is left. */
export function hintValue(v: string | null): string | null {
  if (v === null) return null;
  const kept = caseFold(v.replace(/[^\p{L}\p{M}\p{N}@.]+/gu, ''));
  return kept === '' ? null : kept;
}

/** Byte order of the ids' UTF-8, as the database sorts them. */
const byId = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Suggestions keyed by match key (`C:<id>` / `E:<id>`), from the unmatched records' rows. */
export function suggestCandidates(entity: Entity, lone: readonly MirrorRow[]): Map<string, string[]> {
  const fields = ENTITY_FIELDS[entity].filter((d) => HINT_FIELDS.includes(d.name)).map((d) => d.name);
  const out = new Map<string, string[]>();
  if (!fields.length || lone.length < 2) return out;
  // field + NUL + value → the records of each side that hold it
  const holders = new Map<string, { crm: Set<string>; erp: Set<string> }>();
  const hints: { row: MirrorRow; key: string }[] = [];
  for (const row of lone)
    for (const f of fields) {
      const v = hintValue(row.fields[f] ?? null);
      if (v === null) continue;
      const key = `${f}\u0000${v}`;
      const h = holders.get(key) ?? { crm: new Set<string>(), erp: new Set<string>() };
      holders.set(key, h);
      h[row.side].add(row.source_id);
      hints.push({ row, key });
    }
  const found = new Map<string, Set<string>>();
  for (const { row, key } of hints) {
    const others = holders.get(key)![row.side === 'crm' ? 'erp' : 'crm'];
    if (!others.size) continue;
    const mk = `${row.side === 'crm' ? 'C' : 'E'}:${row.source_id}`;
    const set = found.get(mk) ?? new Set<string>();
    found.set(mk, set);
    for (const id of others) set.add(id);
  }
  for (const [mk, ids] of found) out.set(mk, [...ids].sort(byId).slice(0, MAX_CANDIDATES));
  return out;
}

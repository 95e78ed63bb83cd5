// The SOQL subset the Salesforce sandbox understands — enough for Bulk extractions:
//   SELECT f1, f2 FROM Obj [WHERE f op literal (AND f op literal)*] [ORDER BY f [ASC|DESC]] [LIMIT n]
// where a condition may also be `f IN ('a', 'b', …)` (the backfill's `Id IN (…)`).
// Literals: unquoted datetimes in the documented forms YYYY-MM-DDThh:mm:ss(Z|±hh:mm) (whole
// seconds: a fraction is MALFORMED_QUERY, WIRE.md "SOQL") and dates, 'strings', numbers,
// true/false/null.
// Datetime fields compare as instants; everything else as text (numbers as numbers).

import { TrueupError } from '../../../staging/model/errors.js';
import { satisfiesComparison } from '../http/sandbox-server.js';

export type SoqlOp = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'IN';

export interface SoqlCondition {
  field: string;
  op: SoqlOp;
  value: string | number | boolean | null | string[];
}

export interface SoqlQuery {
  fields: string[];
  object: string;
  where: SoqlCondition[];
  orderBy?: { field: string; desc: boolean };
  limit?: number;
}

export class SoqlError extends TrueupError {
  override name = 'SoqlError';
}

const QUERY =
  /^\s*SELECT\s+(.+?)\s+FROM\s+([A-Za-z][A-Za-z0-9_]*)(?:\s+WHERE\s+(.+?))?(?:\s+ORDER\s+BY\s+([A-Za-z][A-Za-z0-9_]*)(?:\s+(ASC|DESC))?)?(?:\s+LIMIT\s+(\d+))?\s*$/is;
const IN_LIST =
  /^\s*([A-Za-z][A-Za-z0-9_]*)\s+IN\s*\(\s*('(?:[^'\\]|\\.)*'(?:\s*,\s*'(?:[^'\\]|\\.)*')*)\s*\)\s*$/i;
const CONDITION = /^\s*([A-Za-z][A-Za-z0-9_]*)\s*(=|!=|<=|>=|<|>)\s*('(?:[^'\\]|\\.)*'|[^\s']+)\s*$/;

export function parseSoql(text: string): SoqlQuery {
  const m = QUERY.exec(text);
  if (!m) throw new SoqlError(`unexpected token in query: ${text.slice(0, 120)}`);
  const fields = m[1]!.split(',').map((f) => f.trim());
  for (const f of fields)
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(f)) throw new SoqlError(`unexpected token: '${f}'`);
  const where = m[3] ? splitAnd(m[3]).map(parseCondition) : [];
  return {
    fields,
    object: m[2]!,
    where,
    ...(m[4] ? { orderBy: { field: m[4], desc: (m[5] ?? '').toUpperCase() === 'DESC' } } : {}),
    ...(m[6] ? { limit: Number(m[6]) } : {}),
  };
}

function splitAnd(where: string): string[] {
  if (/\bOR\b/i.test(where.replace(/'(?:[^'\\]|\\.)*'/g, "''")))
    throw new SoqlError('the sandbox supports only AND in WHERE');
  return where.split(/\s+AND\s+/i);
}

function parseCondition(text: string): SoqlCondition {
  const list = IN_LIST.exec(text);
  if (list) {
    const values = [...list[2]!.matchAll(/'((?:[^'\\]|\\.)*)'/g)].map((v) => v[1]!.replace(/\\(.)/g, '$1'));
    return { field: list[1]!, op: 'IN', value: values };
  }
  const m = CONDITION.exec(text);
  if (!m) throw new SoqlError(`unexpected condition: ${text}`);
  const raw = m[3]!;
  let value: SoqlCondition['value'];
  if (raw.startsWith("'")) value = raw.slice(1, -1).replace(/\\(.)/g, '$1');
  else if (/^(true|false)$/i.test(raw)) value = raw.toLowerCase() === 'true';
  else if (/^null$/i.test(raw)) value = null;
  else if (/^-?\d+(\.\d+)?$/.test(raw)) value = Number(raw);
  else if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2}))?$/.test(raw)) value = raw;
  else throw new SoqlError(`unexpected literal: ${raw}`);
  return { field: m[1]!, op: m[2] as SoqlOp, value };
}

/** Compares a record's cell with a condition. `isDateTime` names fields compared as instants. */
export function matches(cell: string, cond: SoqlCondition, isDateTime: boolean): boolean {
  const v = cond.value;
  if (Array.isArray(v)) return v.includes(cell);
  let cmp: number;
  if (v === null) {
    if (cond.op === '=') return cell === '';
    if (cond.op === '!=') return cell !== '';
    return false;
  }
  if (cell === '') return cond.op === '!=';
  if (typeof v === 'boolean') cmp = cell.toLowerCase() === String(v) ? 0 : 1;
  else if (typeof v === 'number') cmp = Math.sign(Number(cell) - v);
  else if (isDateTime) cmp = Math.sign(Date.parse(cell) - Date.parse(v));
  else cmp = cell < v ? -1 : cell > v ? 1 : 0;
  return satisfiesComparison(cmp, cond.op);
}

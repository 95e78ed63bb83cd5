// The SuiteQL subset the NetSuite sandbox understands: SELECT columns / TO_CHAR(col, fmt) [AS a]
// FROM table [WHERE conditions with AND, OR, NOT, parentheses, = <> != < <= > >=, IN (…),
// IS [NOT] NULL, TO_TIMESTAMP('…', fmt)] [ORDER BY col [ASC|DESC], …]. Enough for what the
// extractor sends; anything else is a parse error answered with NetSuite's 400.
import { satisfiesComparison } from '../http/sandbox-server.js';

export type Value = string | number | null;
export type Row = Record<string, Value>;

export type Expr =
  | { t: 'col'; name: string }
  | { t: 'lit'; value: Value }
  | { t: 'fn'; name: string; args: Expr[] };

export type Cond =
  | { t: 'and' | 'or'; left: Cond; right: Cond }
  | { t: 'not'; cond: Cond }
  | { t: 'cmp'; op: string; left: Expr; right: Expr }
  | { t: 'in'; left: Expr; values: Expr[] }
  | { t: 'null'; left: Expr; negated: boolean };

export interface Query {
  columns: { expr: Expr | '*'; alias: string }[];
  table: string;
  where: Cond | null;
  orderBy: { expr: Expr; desc: boolean }[];
}

export class SuiteqlError extends Error {
  override name = 'SuiteqlError';
}

const TOKEN = /\s*(?:('(?:[^']|'')*')|(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_.]*)|(<>|!=|<=|>=|[=<>(),*]))/y;

function tokenize(q: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < q.length) {
    if (/^\s*$/.test(q.slice(pos))) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(q);
    if (!m) throw new SuiteqlError(`Invalid search query: unexpected text near "${q.slice(pos, pos + 20)}"`);
    out.push(m[1] ?? m[2] ?? m[3] ?? m[4]!);
    pos = TOKEN.lastIndex;
  }
  return out;
}

export function parseSuiteql(q: string): Query {
  const toks = tokenize(q);
  let i = 0;
  const peek = () => toks[i];
  const kw = (w: string) => peek()?.toUpperCase() === w;
  const eat = (w?: string): string => {
    const tok = toks[i];
    if (tok === undefined || (w !== undefined && tok.toUpperCase() !== w))
      throw new SuiteqlError(`Invalid search query: expected ${w ?? 'more'} at "${tok ?? 'end'}"`);
    i++;
    return tok;
  };

  const value = (): Expr => {
    const tok = eat();
    if (tok.startsWith("'")) return { t: 'lit', value: tok.slice(1, -1).replaceAll("''", "'") };
    if (/^\d/.test(tok)) return { t: 'lit', value: Number(tok) };
    if (tok.toUpperCase() === 'NULL') return { t: 'lit', value: null };
    if (peek() === '(') {
      eat('(');
      const args: Expr[] = [value()];
      while (peek() === ',') {
        eat(',');
        args.push(value());
      }
      eat(')');
      return { t: 'fn', name: tok.toUpperCase(), args };
    }
    return { t: 'col', name: tok.toLowerCase() };
  };

  const cond = (): Cond => {
    let left = andCond();
    while (kw('OR')) {
      eat();
      left = { t: 'or', left, right: andCond() };
    }
    return left;
  };
  const andCond = (): Cond => {
    let left = unary();
    while (kw('AND')) {
      eat();
      left = { t: 'and', left, right: unary() };
    }
    return left;
  };
  const unary = (): Cond => {
    if (kw('NOT')) {
      eat();
      return { t: 'not', cond: unary() };
    }
    if (peek() === '(') {
      eat('(');
      const c = cond();
      eat(')');
      return c;
    }
    const left = value();
    if (kw('IS')) {
      eat();
      const negated = kw('NOT');
      if (negated) eat();
      eat('NULL');
      return { t: 'null', left, negated };
    }
    if (kw('IN')) {
      eat();
      eat('(');
      const values = [value()];
      while (peek() === ',') {
        eat(',');
        values.push(value());
      }
      eat(')');
      return { t: 'in', left, values };
    }
    const op = eat();
    if (!['=', '<>', '!=', '<', '<=', '>', '>='].includes(op))
      throw new SuiteqlError(`Invalid search query: unknown operator "${op}"`);
    return { t: 'cmp', op, left, right: value() };
  };

  eat('SELECT');
  const columns: Query['columns'] = [];
  do {
    if (columns.length) eat(',');
    if (peek() === '*') {
      eat();
      columns.push({ expr: '*', alias: '*' });
      continue;
    }
    const expr = value();
    let alias = expr.t === 'col' ? expr.name : `expr${columns.length + 1}`;
    if (kw('AS')) {
      eat();
      alias = eat().toLowerCase();
    }
    columns.push({ expr, alias });
  } while (peek() === ',');
  eat('FROM');
  const table = eat().toLowerCase();
  let where: Cond | null = null;
  if (kw('WHERE')) {
    eat();
    where = cond();
  }
  const orderBy: Query['orderBy'] = [];
  if (kw('ORDER')) {
    eat();
    eat('BY');
    do {
      if (orderBy.length) eat(',');
      const expr = value();
      let desc = false;
      if (kw('ASC') || kw('DESC')) desc = eat().toUpperCase() === 'DESC';
      orderBy.push({ expr, desc });
    } while (peek() === ',');
  }
  if (i < toks.length) throw new SuiteqlError(`Invalid search query: unexpected "${toks[i]}"`);
  return { columns, table, where, orderBy };
}

/** Epoch ms ↔ 'YYYY-MM-DD HH24:MI:SS' / 'YYYY-MM-DD' (UTC: the sandbox account's time zone). */
export function formatStamp(ms: number, fmt: string): string {
  const iso = new Date(ms).toISOString();
  if (/^YYYY-MM-DD$/i.test(fmt)) return iso.slice(0, 10);
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

export function parseStamp(text: string): number {
  const ms = Date.parse(`${text.trim().replace(' ', 'T')}${text.length > 10 ? 'Z' : 'T00:00:00Z'}`);
  if (Number.isNaN(ms)) throw new SuiteqlError(`Invalid date value "${text}"`);
  return ms;
}

export function evalExpr(e: Expr, row: Row, dateColumns: ReadonlySet<string>): Value {
  switch (e.t) {
    case 'lit':
      return e.value;
    case 'col': {
      const v = row[e.name];
      if (v === undefined) throw new SuiteqlError(`Field '${e.name}' for record type was not found.`);
      // Dates leave the server in the user's format unless TO_CHAR is used.
      if (typeof v === 'number' && dateColumns.has(e.name)) {
        const d = new Date(v);
        return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()}`;
      }
      return v;
    }
    case 'fn': {
      if (e.name === 'TO_CHAR') {
        const inner = e.args[0];
        const v = inner?.t === 'col' ? row[inner.name] : inner ? evalExpr(inner, row, dateColumns) : null;
        const fmt = e.args[1] ? String(evalExpr(e.args[1], row, dateColumns)) : 'YYYY-MM-DD HH24:MI:SS';
        return typeof v === 'number' ? formatStamp(v, fmt) : v == null ? null : String(v);
      }
      if (e.name === 'TO_TIMESTAMP' || e.name === 'TO_DATE') {
        const v = e.args[0] ? evalExpr(e.args[0], row, dateColumns) : null;
        return v == null ? null : parseStamp(String(v));
      }
      throw new SuiteqlError(`Unsupported function ${e.name}`);
    }
  }
}

/** Comparable value of an expression in a condition or ORDER BY: dates stay epoch ms. */
export function rawValue(e: Expr, row: Row, dateColumns: ReadonlySet<string>): Value {
  if (e.t === 'col') {
    const v = row[e.name];
    if (v === undefined) throw new SuiteqlError(`Field '${e.name}' for record type was not found.`);
    return v;
  }
  return evalExpr(e, row, dateColumns);
}

export function compare(a: Value, b: Value): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number' && typeof b === 'string' && b.trim() !== '' && !Number.isNaN(Number(b)))
    return a - Number(b);
  return String(a) < String(b) ? -1 : 1;
}

export function test(c: Cond, row: Row, dates: ReadonlySet<string>): boolean {
  switch (c.t) {
    case 'and':
      return test(c.left, row, dates) && test(c.right, row, dates);
    case 'or':
      return test(c.left, row, dates) || test(c.right, row, dates);
    case 'not':
      return !test(c.cond, row, dates);
    case 'null': {
      const v = rawValue(c.left, row, dates);
      return c.negated ? v !== null : v === null;
    }
    case 'in': {
      const v = rawValue(c.left, row, dates);
      return c.values.some((x) => compare(v, rawValue(x, row, dates)) === 0);
    }
    case 'cmp': {
      const a = rawValue(c.left, row, dates);
      const b = rawValue(c.right, row, dates);
      if (a === null || b === null) return false;
      return satisfiesComparison(compare(a, b), c.op);
    }
  }
}

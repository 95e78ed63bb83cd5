// The SuiteQL subset the NetSuite sandbox understands: SELECT columns / TO_CHAR(col, fmt) /
// BUILTIN.DF(col) / SYSDATE [AS a] FROM table (or DUAL) [WHERE conditions with AND, OR, NOT,
// parentheses, = <> != < <= > >=, IN (…), IS [NOT] NULL, TO_TIMESTAMP('…', fmt)] [ORDER BY col
// [ASC|DESC], …]. Enough for what the connector sends; anything else is a parse error answered
// with NetSuite's 400. Evaluation (values, time zones, references) is suiteql-eval.ts.
import { TrueupError } from '../../../staging/model/errors.js';

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

export class SuiteqlError extends TrueupError {
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
    if (tok.toUpperCase() === 'SYSDATE') return { t: 'fn', name: 'SYSDATE', args: [] };
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

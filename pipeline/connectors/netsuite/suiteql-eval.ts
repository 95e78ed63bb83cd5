// Evaluation of the sandbox's SuiteQL subset (suiteql-parser.ts) over stored rows, the way
// NetSuite answers (WIRE.md): list/record references (currency, terms, entity) are internal ids
// and BUILTIN.DF shows their display name; date/time columns are rendered and parsed on the
// integration user's wall clock (its time zone preference), date-only columns as calendar dates;
// a date column read without TO_CHAR comes in the user's date format (M/D/YYYY here).
import { satisfiesComparison } from '../http/sandbox-server.js';
import { wallInstant, wallText } from './sandbox-time-zone.js';
import { type Cond, type Expr, type Row, SuiteqlError, type Value } from './suiteql-parser.js';

export type { Row, Value };

/** A reference column's list: what is stored → the internal id served, and its display name. */
export interface RefList {
  id(stored: Value): number | null;
  display(stored: Value): string | null;
}

export interface EvalContext {
  /** Date-only columns (trandate): calendar dates, never shifted by a time zone. */
  dates: ReadonlySet<string>;
  /** Date/time columns (lastmodifieddate): instants, shown on the user's wall clock. */
  datetimes: ReadonlySet<string>;
  /** The integration user's time zone preference (IANA). */
  timeZone: string;
  now: () => number;
  /** Reference columns of the table being read. */
  refs: ReadonlyMap<string, RefList>;
}

const DATE_TIME_FMT = /^YYYY-MM-DD HH24:MI:SS$/i;
const DATE_FMT = /^YYYY-MM-DD$/i;

function column(row: Row, name: string): Value {
  const v = row[name];
  if (v === undefined) throw new SuiteqlError(`Field '${name}' for record type was not found.`);
  return v;
}

/** An instant or calendar date an expression stands for, and whether it is on the wall clock. */
function when(e: Expr | undefined, row: Row, ctx: EvalContext): { ms: number; zoned: boolean } | null {
  if (!e) return null;
  if (e.t === 'col') {
    const v = column(row, e.name);
    if (typeof v !== 'number' || !(ctx.dates.has(e.name) || ctx.datetimes.has(e.name))) return null;
    return { ms: v, zoned: ctx.datetimes.has(e.name) };
  }
  if (e.t === 'fn' && e.name === 'SYSDATE') return { ms: ctx.now(), zoned: true };
  return null;
}

function formatWhen(w: { ms: number; zoned: boolean }, fmt: string, zone: string): string {
  const text = w.zoned ? wallText(w.ms, zone) : new Date(w.ms).toISOString().slice(0, 19).replace('T', ' ');
  if (DATE_FMT.test(fmt)) return text.slice(0, 10);
  if (DATE_TIME_FMT.test(fmt)) return text;
  throw new SuiteqlError(`Invalid search query: unsupported date format '${fmt}'`);
}

/** The user's date format for a date read without TO_CHAR. */
function userDate(w: { ms: number; zoned: boolean }, zone: string): string {
  const [y, m, d] = (w.zoned ? wallText(w.ms, zone) : new Date(w.ms).toISOString()).slice(0, 10).split('-');
  return `${Number(m)}/${Number(d)}/${y}`;
}

/** Values of functions of literals (TO_TIMESTAMP('…')): the same for every row, computed once. */
const constants = new WeakMap<Expr, Value>();

function constant(e: Expr): boolean {
  return e.t === 'lit' || (e.t === 'fn' && e.name !== 'SYSDATE' && e.args.every(constant));
}

/** What an expression shows in a result row. */
export function evalExpr(e: Expr, row: Row, ctx: EvalContext): Value {
  if (e.t === 'fn' && (e.name === 'TO_TIMESTAMP' || e.name === 'TO_DATE') && constant(e)) {
    if (!constants.has(e)) constants.set(e, evalFn(e, row, ctx));
    return constants.get(e)!;
  }
  return e.t === 'fn' ? evalFn(e, row, ctx) : evalLeaf(e, row, ctx);
}

function evalLeaf(e: Expr & { t: 'lit' | 'col' }, row: Row, ctx: EvalContext): Value {
  switch (e.t) {
    case 'lit':
      return e.value;
    case 'col': {
      const v = column(row, e.name);
      const ref = ctx.refs.get(e.name);
      if (ref) return ref.id(v);
      const w = when(e, row, ctx);
      return w ? userDate(w, ctx.timeZone) : v;
    }
  }
}

function evalFn(e: Expr & { t: 'fn' }, row: Row, ctx: EvalContext): Value {
  switch (e.t) {
    case 'fn': {
      if (e.name === 'SYSDATE') return userDate({ ms: ctx.now(), zoned: true }, ctx.timeZone);
      if (e.name === 'TO_CHAR') {
        const fmt = e.args[1] ? String(evalExpr(e.args[1], row, ctx)) : 'YYYY-MM-DD HH24:MI:SS';
        const w = when(e.args[0], row, ctx);
        if (w) return formatWhen(w, fmt, ctx.timeZone);
        const v = e.args[0] ? rawValue(e.args[0], row, ctx) : null;
        return v == null ? null : String(v);
      }
      if (e.name === 'TO_TIMESTAMP' || e.name === 'TO_DATE') {
        const v = e.args[0] ? evalExpr(e.args[0], row, ctx) : null;
        if (v == null) return null;
        const text = String(v);
        // A date alone is a calendar date (compared with date-only columns); with a time it is
        // the user's wall-clock time.
        const ms =
          text.trim().length > 10 ? wallInstant(text, ctx.timeZone) : Date.parse(`${text.trim()}T00:00:00Z`);
        if (Number.isNaN(ms)) throw new SuiteqlError(`Invalid date value "${text}"`);
        return ms;
      }
      if (e.name === 'BUILTIN.DF') {
        const arg = e.args[0];
        if (arg?.t !== 'col') throw new SuiteqlError('Invalid search query: BUILTIN.DF takes a field');
        const v = column(row, arg.name);
        const ref = ctx.refs.get(arg.name);
        return ref ? ref.display(v) : v;
      }
      throw new SuiteqlError(`Unsupported function ${e.name}`);
    }
  }
}

/** Comparable value of an expression in a condition or ORDER BY: dates stay epoch ms, references ids. */
export function rawValue(e: Expr, row: Row, ctx: EvalContext): Value {
  if (e.t === 'col') {
    const v = column(row, e.name);
    const ref = ctx.refs.get(e.name);
    return ref ? ref.id(v) : v;
  }
  if (e.t === 'fn' && e.name === 'SYSDATE') return ctx.now();
  return evalExpr(e, row, ctx);
}

export function compare(a: Value, b: Value): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number' && typeof b === 'string' && b.trim() !== '' && !Number.isNaN(Number(b)))
    return a - Number(b);
  if (typeof b === 'number' && typeof a === 'string' && a.trim() !== '' && !Number.isNaN(Number(a)))
    return Number(a) - b;
  return String(a) < String(b) ? -1 : 1;
}

export function test(c: Cond, row: Row, ctx: EvalContext): boolean {
  switch (c.t) {
    case 'and':
      return test(c.left, row, ctx) && test(c.right, row, ctx);
    case 'or':
      return test(c.left, row, ctx) || test(c.right, row, ctx);
    case 'not':
      return !test(c.cond, row, ctx);
    case 'null': {
      const v = rawValue(c.left, row, ctx);
      return c.negated ? v !== null : v === null;
    }
    case 'in': {
      const v = rawValue(c.left, row, ctx);
      return c.values.some((x) => compare(v, rawValue(x, row, ctx)) === 0);
    }
    case 'cmp': {
      const a = rawValue(c.left, row, ctx);
      const b = rawValue(c.right, row, ctx);
      if (a === null || b === null) return false;
      return satisfiesComparison(compare(a, b), c.op);
    }
  }
}

// A local NetSuite REST server over seeded, stateful tables, for the tests, the demo and
// `trueup sandbox netsuite`. Every behaviour is a line of WIRE.md: SuiteQL POST with
// limit/offset, `Prefer: transient`, {links, count, hasMore, items, offset, totalResults}, the
// per-query result cap (100,000) answered with NetSuite's 400; item values are strings, null
// columns left out, references internal ids, date/time text on the integration user's time zone
// (`timeZone`); `deletedrecord` (type, recordid, deleteddate, name), `currency`, `term`, DUAL and
// SYSDATE; record upsert by external id (PUT /record/v1/{type}/eid:{id}, camelCase field ids,
// references as {"id"} → 204 + Location); token-based authentication verified by signature
// (`oauth1`) or a bearer token; no daily request quota, only the per-account concurrency 429.
import { type FaultConfig, type SandboxResponse, SandboxServer } from '../http/sandbox-server.js';
import { SandboxLists } from './netsuite-sandbox-lists.js';
import { oauth1Verifier } from './netsuite-sandbox-oauth.js';
import { bodyToColumns, REST_RECORD_TYPES } from './netsuite-sandbox-records.js';
import { generateNetsuiteSeed, type NetsuiteSeedOptions, type NetsuiteSeedTables } from './netsuite-seed.js';
import type { OAuth1Credentials } from './oauth1-signer.js';
import { compare, type EvalContext, evalExpr, type Row, rawValue, test } from './suiteql-eval.js';
import { type Cond, type Expr, parseSuiteql, type Query, SuiteqlError } from './suiteql-parser.js';

export interface NetsuiteSandboxOptions extends NetsuiteSeedOptions {
  /** Tables to serve; default generateNetsuiteSeed(seed, counts). The ground-truth seam. */
  tables?: NetsuiteSeedTables;
  tokens?: string[];
  faults?: FaultConfig;
  /** A SuiteQL query cannot page past this many results (NetSuite: 100,000). */
  queryResultCap?: number;
  now?: () => number;
  /** The integration user's time zone preference (IANA, default UTC): date/time text is on its clock. */
  timeZone?: string;
  /** Token-based authentication: requests signed with these credentials are accepted. */
  oauth1?: OAuth1Credentials;
  /** Keep every exchange (contract tests). */
  record?: boolean;
}

type Table = 'customer' | 'item' | 'transaction' | 'deletedrecord';
const TABLES: readonly Table[] = ['customer', 'item', 'transaction', 'deletedrecord'];
/** Date-only columns: calendar dates. */
const DATES = new Set(['trandate', 'duedate']);
/** Date/time columns: instants, rendered on the user's clock. */
const DATETIMES = new Set(['lastmodifieddate', 'datecreated', 'deleteddate']);

/** Columns each table has (rows may add custom ones): a query naming another is NetSuite's 400. */
const COLUMNS: Readonly<Record<string, readonly string[]>> = {
  customer: [
    'id',
    'entityid',
    'companyname',
    'email',
    'phone',
    'currency',
    'terms',
    'creditlimit',
    'externalid',
    'isinactive',
    'datecreated',
    'lastmodifieddate',
  ],
  item: [
    'id',
    'itemid',
    'displayname',
    'itemtype',
    'baseprice',
    'isinactive',
    'externalid',
    'lastmodifieddate',
  ],
  transaction: [
    'id',
    'type',
    'tranid',
    'entity',
    'trandate',
    'duedate',
    'status',
    'currency',
    'foreigntotal',
    'taxtotal',
    'foreignamountremaining',
    'externalid',
    'memo',
    'lastmodifieddate',
  ],
  deletedrecord: [
    'recordid',
    'type',
    'deleteddate',
    'name',
    'context',
    'deletedby',
    'iscustomrecord',
    'iscustomlist',
    'scriptid',
  ],
  currency: ['id', 'name', 'symbol', 'displaysymbol', 'isbasecurrency', 'isinactive'],
  term: ['id', 'name', 'isinactive'],
  dual: [],
};

/** Every column an expression or condition names. */
function columnsOf(node: Expr | Cond | undefined, out: Set<string>): Set<string> {
  if (!node) return out;
  switch (node.t) {
    case 'col':
      out.add(node.name);
      break;
    case 'fn':
      for (const a of node.args) columnsOf(a, out);
      break;
    case 'and':
    case 'or':
      columnsOf(node.left, out);
      columnsOf(node.right, out);
      break;
    case 'not':
      columnsOf(node.cond, out);
      break;
    case 'cmp':
      columnsOf(node.left, out);
      columnsOf(node.right, out);
      break;
    case 'in':
      columnsOf(node.left, out);
      for (const v of node.values) columnsOf(v, out);
      break;
    case 'null':
      columnsOf(node.left, out);
      break;
  }
  return out;
}

/** `deletedrecord.type` of a deleted row of a table (and transaction type). */
function deletedType(t: Table, rec: Row): string {
  const def = Object.values(REST_RECORD_TYPES).find((d) => d.table === t && (!d.type || d.type === rec.type));
  return def?.deletedType ?? t;
}

export class NetsuiteSandbox {
  readonly server: SandboxServer;
  readonly tables = new Map<Table, Map<number, Row>>();
  /** The `currency` and `term` lists references point into. */
  readonly lists = new SandboxLists();
  /** Records written by record upsert, by internal id: how often each (tests of "written exactly once"). */
  readonly apiWrites = new Map<string, number>();
  /** Rows served by SuiteQL queries, by the table queried (tests of what a read asked for). */
  readonly servedByTable = new Map<string, number>();
  private nextId = 1;
  private version = 0;
  private readonly cache = new Map<string, { version: number; rows: Row[] }>();
  private readonly parsed = new Map<string, Query>();
  private readonly now: () => number;

  constructor(private readonly opts: NetsuiteSandboxOptions = {}) {
    this.now = () => Math.floor((opts.now ?? Date.now)() / 1000) * 1000;
    const clock = opts.now ?? Date.now;
    this.server = new SandboxServer({
      tokens: opts.tokens ?? [],
      faults: opts.faults ?? {},
      vendor: VENDOR_FAULTS,
      ...(opts.record ? { record: true } : {}),
      ...(opts.oauth1
        ? {
            authenticate: oauth1Verifier(opts.oauth1, {
              now: clock,
              bearerAccepted: (opts.tokens ?? []).length > 0,
            }),
          }
        : {}),
    });
    const seed = opts.tables ?? generateNetsuiteSeed(opts);
    for (const t of TABLES) {
      const m = new Map<number, Row>();
      for (const r of seed[t] ?? []) {
        const id = Number(t === 'deletedrecord' ? r.recordid : r.id);
        m.set(t === 'deletedrecord' ? m.size : id, { ...r });
        if (t !== 'deletedrecord') this.nextId = Math.max(this.nextId, id + 1);
      }
      this.tables.set(t, m);
    }
    this.routes();
  }

  listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return this.server.listen(port, host);
  }
  close(): Promise<void> {
    return this.server.close();
  }

  table(t: Table): Map<number, Row> {
    return this.tables.get(t)!;
  }

  // ---- state changes (endpoints and tests use the same ones) ----

  insert(t: Exclude<Table, 'deletedrecord'>, row: Row, stamp = this.now()): Row {
    const rec: Row = { ...row, id: this.nextId++, lastmodifieddate: seconds(stamp) };
    this.table(t).set(rec.id as number, rec);
    this.version++;
    return rec;
  }

  update(t: Exclude<Table, 'deletedrecord'>, id: number, changes: Row, stamp = this.now()): Row {
    const rec = this.table(t).get(id);
    if (!rec) throw new Error(`no ${t} ${id}`);
    Object.assign(rec, changes);
    rec.lastmodifieddate = Math.max(seconds(stamp), (rec.lastmodifieddate as number) ?? 0);
    this.version++;
    return rec;
  }

  remove(t: Exclude<Table, 'deletedrecord'>, id: number, stamp = this.now()): void {
    const rec = this.table(t).get(id);
    if (!rec) return;
    this.table(t).delete(id);
    const del = this.table('deletedrecord');
    const name = (rec.entityid ?? rec.itemid ?? rec.tranid ?? null) as string | null;
    del.set(del.size, { recordid: id, type: deletedType(t, rec), deleteddate: seconds(stamp), name });
    this.version++;
  }

  /** Bulk-insert generated rows (big tests); ids continue from the current maximum. */
  bulkInsert(t: Exclude<Table, 'deletedrecord'>, n: number, make: (i: number, id: number) => Row): void {
    const m = this.table(t);
    for (let i = 0; i < n; i++) {
      const id = this.nextId++;
      m.set(id, { ...make(i, id), id });
    }
    this.version++;
  }

  // ---- SuiteQL ----

  query(q: string): Row[] {
    const hit = this.cache.get(q);
    if (hit && hit.version === this.version) return hit.rows;
    let parsed = this.parsed.get(q);
    if (!parsed) {
      parsed = parseSuiteql(q);
      if (this.parsed.size > 1000) this.parsed.clear();
      this.parsed.set(q, parsed);
    }
    const table = this.source(parsed.table);
    if (!table) throw new SuiteqlError(`Invalid search query. Record '${parsed.table}' was not found.`);
    const p = parsed;
    this.checkColumns(p, table);
    const ctx = this.context(p.table);
    let rows = [...table.values()];
    if (p.where) rows = rows.filter((r) => test(p.where!, r, ctx));
    if (p.orderBy.length)
      rows.sort((a, b) => {
        for (const o of p.orderBy) {
          const c = compare(rawValue(o.expr, a, ctx), rawValue(o.expr, b, ctx));
          if (c !== 0) return o.desc ? -c : c;
        }
        return 0;
      });
    if (this.cache.size > 50) this.cache.clear();
    this.cache.set(q, { version: this.version, rows });
    return rows;
  }

  /** The rows a FROM names: a record table, a list (currency, term), or DUAL (one empty row). */
  private source(name: string): ReadonlyMap<number, Row> | undefined {
    if (name === 'dual') return new Map([[0, {}]]);
    if (name === 'currency') return this.lists.currency;
    if (name === 'term') return this.lists.term;
    return this.tables.get(name as Table);
  }

  /** NetSuite checks a query's fields against the record, not its rows ("Unknown identifier"). */
  private checkColumns(p: Query, rows: ReadonlyMap<number, Row>): void {
    const named = new Set<string>();
    for (const c of p.columns) if (c.expr !== '*') columnsOf(c.expr, named);
    columnsOf(p.where ?? undefined, named);
    for (const o of p.orderBy) columnsOf(o.expr, named);
    let known: Set<string> | undefined;
    for (const c of named) {
      if (COLUMNS[p.table]?.includes(c)) continue;
      // A custom column some rows have (tests add them): read the rows only for such a name.
      known ??= new Set([...rows.values()].flatMap((r) => Object.keys(r)));
      if (!known.has(c))
        throw new SuiteqlError(`Invalid search query. Unknown identifier '${c}' in record '${p.table}'.`);
    }
  }

  private readonly contexts = new Map<string, EvalContext>();

  private context(table: string): EvalContext {
    let ctx = this.contexts.get(table);
    if (!ctx) {
      ctx = {
        dates: DATES,
        datetimes: DATETIMES,
        timeZone: this.opts.timeZone ?? 'UTC',
        now: this.opts.now ?? Date.now,
        refs: this.lists.refs(table, this.table('customer')),
      };
      this.contexts.set(table, ctx);
    }
    return ctx;
  }

  /** One result item as NetSuite sends it: keys lower-cased, values as strings, null columns left out. */
  project(p: Query, r: Row): Record<string, unknown> {
    const ctx = this.context(p.table);
    const out: Record<string, unknown> = { links: [] };
    const put = (key: string, v: ReturnType<typeof evalExpr>) => {
      if (v !== null) out[key] = String(v);
    };
    for (const c of p.columns) {
      if (c.expr === '*') {
        for (const k of Object.keys(r)) put(k, evalExpr({ t: 'col', name: k }, r, ctx));
      } else put(c.alias, evalExpr(c.expr, r, ctx));
    }
    return out;
  }

  private routes(): void {
    const s = this.server;
    s.route('POST', '/services/rest/query/v1/suiteql', (req) => {
      if (!/transient/i.test(String(req.headers.prefer ?? '')))
        return netsuiteError(
          400,
          'Bad Request',
          'INVALID_HEADER',
          'SuiteQL requests need the header Prefer: transient.',
        );
      const limit = Number(req.url.searchParams.get('limit') ?? 1000);
      const offset = Number(req.url.searchParams.get('offset') ?? 0);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        return netsuiteError(
          400,
          'Bad Request',
          'INVALID_PARAMETER',
          'The limit must be between 1 and 1000.',
        );
      const cap = this.opts.queryResultCap ?? 100_000;
      if (!Number.isInteger(offset) || offset < 0 || offset + limit > cap)
        return netsuiteError(
          400,
          'Bad Request',
          'INVALID_PARAMETER',
          `Invalid offset: a SuiteQL query can return at most ${cap} results; narrow the query.`,
        );
      let q: string;
      try {
        q = String(req.json<{ q?: string }>().q ?? '');
      } catch {
        return netsuiteError(400, 'Bad Request', 'INVALID_CONTENT', 'The request body is not valid JSON.');
      }
      let rows: Row[];
      try {
        rows = this.query(q);
      } catch (err) {
        if (err instanceof SuiteqlError)
          return netsuiteError(400, 'Bad Request', 'INVALID_PARAMETER', err.message);
        throw err;
      }
      const parsed = this.parsed.get(q)!;
      const items = rows.slice(offset, offset + limit).map((r) => this.project(parsed, r));
      this.servedByTable.set(parsed.table, (this.servedByTable.get(parsed.table) ?? 0) + items.length);
      const hasMore = offset + items.length < rows.length;
      const href = (o: number) => `${req.url.pathname}?limit=${limit}&offset=${o}`;
      const links = [{ rel: 'self', href: href(offset) }];
      if (hasMore) links.push({ rel: 'next', href: href(offset + items.length) });
      if (offset > 0) links.push({ rel: 'previous', href: href(Math.max(0, offset - limit)) });
      return {
        status: 200,
        body: { links, count: items.length, hasMore, items, offset, totalResults: rows.length },
      };
    });

    s.route('PUT', '/services/rest/record/v1/:type/:key', (req, p) => {
      const def = REST_RECORD_TYPES[p.type ?? ''];
      if (!def)
        return netsuiteError(404, 'Not Found', 'NONEXISTENT_ID', `Record type '${p.type}' does not exist.`);
      if (!p.key?.startsWith('eid:'))
        return netsuiteError(
          400,
          'Bad Request',
          'INVALID_PARAMETER',
          'Upsert needs an external id: eid:{externalId}.',
        );
      const eid = p.key.slice(4);
      let body: unknown;
      try {
        body = req.json();
      } catch {
        return netsuiteError(400, 'Bad Request', 'INVALID_CONTENT', 'The request body is not valid JSON.');
      }
      const parsed = bodyToColumns(def, body, this.lists, this.table('customer'));
      if ('error' in parsed)
        return netsuiteError(400, 'Bad Request', parsed.error.code, parsed.error.detail, parsed.error.path);
      const changes = parsed.columns;
      const table = this.table(def.table);
      const existing = [...table.values()].find(
        (r) => r.externalid === eid && (!def.type || r.type === def.type),
      );
      const rec = existing
        ? this.update(def.table, existing.id as number, changes)
        : this.insert(def.table, {
            // A new record has every field of its type (a SuiteQL select of an unset one is null).
            ...Object.fromEntries(Object.keys([...table.values()][0] ?? {}).map((k) => [k, null])),
            ...changes,
            externalid: eid,
            ...(def.type ? { type: def.type } : {}),
          });
      this.apiWrites.set(String(rec.id), (this.apiWrites.get(String(rec.id)) ?? 0) + 1);
      return {
        status: 204,
        headers: { location: `${req.url.origin}/services/rest/record/v1/${p.type}/${rec.id}` },
      };
    });
  }
}

/** NetSuite stamps have whole-second precision. */
function seconds(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

export function netsuiteError(
  status: number,
  title: string,
  code: string,
  detail: string,
  path?: string,
): SandboxResponse {
  return {
    status,
    body: {
      type: 'https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html',
      title,
      status,
      'o:errorDetails': [{ detail, 'o:errorCode': code, ...(path ? { 'o:errorPath': path } : {}) }],
    },
  };
}

const VENDOR_FAULTS = {
  rateLimited: () =>
    netsuiteError(
      429,
      'Too Many Requests',
      'CONCURRENCY_LIMIT_EXCEEDED',
      'Concurrent request limit exceeded. Request blocked.',
    ),
  // NetSuite has no daily REST request quota (WIRE.md "Limits"): an exhausted "daily limit" fault
  // is answered like the per-account concurrency limit, which is all NetSuite has.
  dailyLimited: () =>
    netsuiteError(
      429,
      'Too Many Requests',
      'CONCURRENCY_LIMIT_EXCEEDED',
      'Concurrent request limit exceeded. Request blocked.',
    ),
  serverError: () =>
    netsuiteError(
      500,
      'Internal Server Error',
      'UNEXPECTED_ERROR',
      'An unexpected error occurred. Error ID: sandbox',
    ),
  unauthorized: () =>
    netsuiteError(
      401,
      'Unauthorized',
      'INVALID_LOGIN',
      'Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.',
    ),
};

export interface RunningNetsuiteSandbox {
  url: string;
  token: string;
  summary: string;
  sandbox: NetsuiteSandbox;
  close(): Promise<void>;
}

/**
 * Starts a NetSuite sandbox; the shape `trueup sandbox netsuite` expects (SandboxStarter).
 * `records` sizes customers (items and transactions scale with it). Auth is a bearer token.
 */
export async function startNetsuiteSandbox(
  opts: NetsuiteSandboxOptions & { port?: number; host?: string; token?: string; records?: number } = {},
): Promise<RunningNetsuiteSandbox> {
  const token = opts.token ?? 'sandbox-token';
  const n = opts.records ?? 1000;
  const sandbox = new NetsuiteSandbox({
    counts: { customer: n, item: Math.max(10, Math.round(n / 10)), salesorder: n, invoice: n, payment: n },
    ...opts,
    tokens: opts.tokens ?? [token],
  });
  const url = await sandbox.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
  const counts = [...sandbox.tables].map(([t, m]) => `${t} ${m.size}`).join(', ');
  return {
    url,
    token,
    sandbox,
    summary: [
      `NetSuite sandbox (SuiteQL REST + record upsert by external id) on ${url}`,
      `seed ${opts.seed ?? 42}: ${counts}`,
      'config:',
      '  kind: netsuite',
      '  role: erp',
      `  baseUrl: ${url}`,
      `  accessToken: \${env:NETSUITE_TOKEN}   # export NETSUITE_TOKEN=${token}`,
    ].join('\n'),
    close: () => sandbox.close(),
  };
}

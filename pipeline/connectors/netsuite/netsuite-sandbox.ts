// A local NetSuite REST server over seeded, stateful tables, for the tests, the demo and
// `trueup sandbox netsuite`. It speaks the documented API (APIS.md): SuiteQL POST with
// limit/offset, `Prefer: transient`, {links, count, hasMore, items, offset, totalResults}, the
// per-query result cap (100,000) answered with NetSuite's 400; record upsert by external id
// (PUT /record/v1/{type}/eid:{id} → 204 + Location); lastmodifieddate advances on every write and
// deletes land in `deletedrecord`. Faults come from the shared SandboxServer with NetSuite's bodies.
import { type FaultConfig, type SandboxResponse, SandboxServer } from '../http/sandbox-server.js';
import { generateNetsuiteSeed, type NetsuiteSeedOptions, type NetsuiteSeedTables } from './netsuite-seed.js';
import {
  compare,
  evalExpr,
  parseSuiteql,
  type Query,
  type Row,
  rawValue,
  SuiteqlError,
  test,
} from './suiteql-parser.js';

export interface NetsuiteSandboxOptions extends NetsuiteSeedOptions {
  /** Tables to serve; default generateNetsuiteSeed(seed, counts). The ground-truth seam. */
  tables?: NetsuiteSeedTables;
  tokens?: string[];
  faults?: FaultConfig;
  /** A SuiteQL query cannot page past this many results (NetSuite: 100,000). */
  queryResultCap?: number;
  now?: () => number;
}

type Table = 'customer' | 'item' | 'transaction' | 'deletedrecord';
const TABLES: readonly Table[] = ['customer', 'item', 'transaction', 'deletedrecord'];
const DATE_COLUMNS = new Set(['lastmodifieddate', 'datecreated', 'trandate', 'duedate', 'deleteddate']);

/** REST record types → table (and transaction type). */
const RECORD_TYPES: Record<string, { table: Table; type?: string }> = {
  customer: { table: 'customer' },
  inventoryitem: { table: 'item' },
  salesorder: { table: 'transaction', type: 'SalesOrd' },
  invoice: { table: 'transaction', type: 'CustInvc' },
  customerpayment: { table: 'transaction', type: 'CustPymt' },
};
const DELETED_TYPE: Record<string, string> = {
  SalesOrd: 'salesorder',
  CustInvc: 'invoice',
  CustPymt: 'customerpayment',
};

export class NetsuiteSandbox {
  readonly server: SandboxServer;
  readonly tables = new Map<Table, Map<number, Row>>();
  private nextId = 1;
  private version = 0;
  private readonly cache = new Map<string, { version: number; rows: Row[] }>();
  private readonly parsed = new Map<string, Query>();
  private readonly now: () => number;

  constructor(private readonly opts: NetsuiteSandboxOptions = {}) {
    this.now = () => Math.floor((opts.now ?? Date.now)() / 1000) * 1000;
    this.server = new SandboxServer({
      tokens: opts.tokens ?? [],
      faults: opts.faults ?? {},
      vendor: VENDOR_FAULTS,
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
    const recordtype =
      t === 'transaction' ? DELETED_TYPE[rec.type as string]! : t === 'item' ? 'inventoryitem' : t;
    const del = this.table('deletedrecord');
    del.set(del.size, { recordid: id, recordtype, deleteddate: seconds(stamp), name: null });
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
    const table = this.tables.get(parsed.table as Table);
    if (!table) throw new SuiteqlError(`Invalid search query. Record '${parsed.table}' was not found.`);
    const p = parsed;
    let rows = [...table.values()];
    if (p.where) rows = rows.filter((r) => test(p.where!, r, DATE_COLUMNS));
    if (p.orderBy.length)
      rows.sort((a, b) => {
        for (const o of p.orderBy) {
          const c = compare(rawValue(o.expr, a, DATE_COLUMNS), rawValue(o.expr, b, DATE_COLUMNS));
          if (c !== 0) return o.desc ? -c : c;
        }
        return 0;
      });
    if (this.cache.size > 50) this.cache.clear();
    this.cache.set(q, { version: this.version, rows });
    return rows;
  }

  project(p: Query, r: Row): Record<string, unknown> {
    const out: Record<string, unknown> = { links: [] };
    for (const c of p.columns) {
      if (c.expr === '*') {
        for (const k of Object.keys(r)) out[k] = evalExpr({ t: 'col', name: k }, r, DATE_COLUMNS);
      } else out[c.alias] = evalExpr(c.expr, r, DATE_COLUMNS);
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
      const rt = RECORD_TYPES[p.type ?? ''];
      if (!rt)
        return netsuiteError(404, 'Not Found', 'NONEXISTENT_ID', `Record type '${p.type}' does not exist.`);
      if (!p.key?.startsWith('eid:'))
        return netsuiteError(
          400,
          'Bad Request',
          'INVALID_PARAMETER',
          'Upsert needs an external id: eid:{externalId}.',
        );
      const eid = p.key.slice(4);
      let body: Record<string, unknown>;
      try {
        body = req.json<Record<string, unknown>>();
      } catch {
        return netsuiteError(400, 'Bad Request', 'INVALID_CONTENT', 'The request body is not valid JSON.');
      }
      const changes: Row = {};
      for (const [k, v] of Object.entries(body)) {
        const key = k.toLowerCase();
        if (
          ['creditlimit', 'baseprice', 'foreigntotal'].includes(key) &&
          v !== null &&
          Number.isNaN(Number(v))
        )
          return netsuiteError(
            400,
            'Bad Request',
            'USER_ERROR',
            `Invalid value for field ${k}: ${JSON.stringify(v)}.`,
            k,
          );
        changes[key] =
          typeof v === 'number' || v === null ? v : typeof v === 'boolean' ? (v ? 'T' : 'F') : String(v);
      }
      const table = this.table(rt.table);
      const existing = [...table.values()].find(
        (r) => r.externalid === eid && (!rt.type || r.type === rt.type),
      );
      const rec = existing
        ? this.update(rt.table as Exclude<Table, 'deletedrecord'>, existing.id as number, changes)
        : this.insert(rt.table as Exclude<Table, 'deletedrecord'>, {
            ...changes,
            externalid: eid,
            ...(rt.type ? { type: rt.type } : {}),
          });
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
      type: `https://www.rfc-editor.org/rfc/rfc9110.html#section-15.${status >= 500 ? '6.1' : '5.1'}`,
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
  dailyLimited: () =>
    netsuiteError(
      429,
      'Too Many Requests',
      'REQUEST_LIMIT_EXCEEDED',
      'The request limit for this period was exceeded.',
    ),
  serverError: () =>
    netsuiteError(
      500,
      'Internal Server Error',
      'UNEXPECTED_ERROR',
      'An unexpected error occurred. Error ID: sandbox',
    ),
  unauthorized: () => netsuiteError(401, 'Unauthorized', 'INVALID_LOGIN', 'Invalid login attempt.'),
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

// The base every vendor sandbox builds on: a local HTTP server (node:http) with bearer-token
// auth, simple routing, and configurable fault injection — rate-limit windows answered with the
// vendor's own 429 body and headers, an exhausted daily limit, 5xx, slow responses, dropped
// connections. Faults are drawn from a seeded PRNG so a test run is repeatable. Tests can expire
// and issue tokens during a run (an OAuth access token running out mid-load) and script the exact
// next responses (`respondNext`). A sandbox may check credentials of its own (NetSuite verifies
// OAuth 1.0a signatures) through `authenticate`. With `record` on, every exchange (request, and
// the response's status and JSON body) is kept in `exchanges` for the contract tests, which check
// both sides against the vendors' documented schemas.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FaultConfig {
  /** Probability (0-1) that a request is answered with the vendor's rate-limit response. */
  rateLimitRate?: number;
  /** Probability of a 5xx. */
  serverErrorRate?: number;
  /** Probability that the connection is destroyed without a response. */
  dropRate?: number;
  /** Probability and delay of a slow response. */
  slowRate?: number;
  slowMs?: number;
  /** After this many requests every request gets the vendor's daily-limit response. */
  dailyLimit?: number;
  /** Requests whose path matches are never faulted (e.g. auth endpoints). */
  exempt?: RegExp;
  seed?: number;
}

export interface SandboxResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Raw text body (CSV), or raw bytes (a fault: bytes that are not UTF-8); `body` is JSON-encoded otherwise. */
  text?: string | Buffer;
  /** A body produced piece by piece (large CSV results), written with backpressure. */
  stream?: AsyncIterable<string | Buffer>;
}

export interface SandboxRequest {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: string;
  json<T = unknown>(): T;
}

export type Handler = (
  req: SandboxRequest,
  params: Record<string, string>,
) => SandboxResponse | Promise<SandboxResponse>;

export interface VendorFaults {
  rateLimited(): SandboxResponse;
  dailyLimited(): SandboxResponse;
  serverError(): SandboxResponse;
  unauthorized(): SandboxResponse;
  /** The 401 for a token that was accepted once and has expired, when the vendor tells it apart. */
  expired?(): SandboxResponse;
}

/** A vendor response `respondNext` can script (answered before the token check). */
export type ScriptedFault = 'rateLimited' | 'dailyLimited' | 'serverError' | 'unauthorized';

export interface SandboxOptions {
  /** Accepted bearer tokens; empty → no auth check. */
  tokens?: string[];
  faults?: FaultConfig;
  vendor: VendorFaults;
  /**
   * A credential check of the sandbox's own for requests it recognises (an OAuth 1.0a signature):
   * true or false decides; undefined leaves the request to the bearer-token check.
   */
  authenticate?: (req: SandboxRequest) => boolean | undefined;
  /** Keep every exchange in `exchanges` (contract tests). */
  record?: boolean;
}

/** One request and its answer, as the contract tests check them. */
export interface SandboxExchange {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
  /** The request body, parsed when it was JSON. */
  body: unknown;
  status: number;
  /** The response body when it was JSON (streamed and text bodies are not kept). */
  response: unknown;
}

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

const COMPARISONS: Readonly<Record<string, (cmp: number) => boolean>> = {
  '=': (c) => c === 0,
  EQ: (c) => c === 0,
  '!=': (c) => c !== 0,
  '<>': (c) => c !== 0,
  NEQ: (c) => c !== 0,
  '<': (c) => c < 0,
  LT: (c) => c < 0,
  '<=': (c) => c <= 0,
  LTE: (c) => c <= 0,
  '>': (c) => c > 0,
  GT: (c) => c > 0,
  '>=': (c) => c >= 0,
  GTE: (c) => c >= 0,
};

/**
 * Whether `cmp` (the sign of "value compared with operand") satisfies a comparison operator in
 * any sandbox's spelling (SOQL and SuiteQL symbols, HubSpot's EQ/GTE/…); unknown operators: false.
 */
export function satisfiesComparison(cmp: number, op: string): boolean {
  return COMPARISONS[op]?.(cmp) ?? false;
}

/** mulberry32: a tiny seeded PRNG, good enough for fault injection. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class SandboxServer {
  private readonly routes: Route[] = [];
  private server: Server | undefined;
  private random: () => number;
  faults: FaultConfig;
  readonly counters = { requests: 0, faulted: 0 };
  /** Requests per "METHOD /path" (faulted ones included), for tests that bound retries. */
  readonly requestsByPath = new Map<string, number>();
  /**
   * Sees each request ("METHOD /path") before it is answered: a test can expire a token or script
   * responses for exactly that request (the Nth chunk of a stream) with no race against the client.
   */
  onRequest: ((key: string) => void) | undefined;
  /**
   * Fault injection on the answer itself: sees each response the sandbox would send to "METHOD
   * /path" and may replace it (an HTML page, an empty or truncated body, a page without its
   * paging fields, bytes that are not UTF-8); undefined keeps it.
   */
  tamper: ((key: string, out: SandboxResponse) => SandboxResponse | undefined) | undefined;
  /** Accepted bearer tokens; the check is on once some were given, expired or issued. */
  private readonly tokens: Set<string>;
  /** Every token ever accepted: an expired one gets the vendor's `expired` 401. */
  private readonly known: Set<string>;
  private authRequired: boolean;
  private readonly scripted: ScriptedFault[] = [];
  private issued = 0;
  /** Every exchange, when `record` is on. */
  readonly exchanges: SandboxExchange[] = [];

  constructor(private readonly opts: SandboxOptions) {
    this.faults = { ...opts.faults };
    this.random = prng(opts.faults?.seed ?? 1);
    this.tokens = new Set(opts.tokens ?? []);
    this.known = new Set(this.tokens);
    this.authRequired = this.tokens.size > 0;
  }

  /**
   * Expires `token` (default: every accepted token): requests carrying it get the vendor's 401, as
   * an OAuth access token that ran out during a run.
   */
  expireToken(token?: string): void {
    if (token === undefined) this.tokens.clear();
    else this.tokens.delete(token);
    this.authRequired = true;
  }

  /** A new accepted token (what an OAuth refresh returns). */
  issueToken(): string {
    const token = `sandbox-token-issued-${++this.issued}`;
    this.tokens.add(token);
    this.known.add(token);
    this.authRequired = true;
    return token;
  }

  /** The next requests are answered, in order, with these vendor responses (before the token check). */
  respondNext(...responses: ScriptedFault[]): void {
    this.scripted.push(...responses);
  }

  setFaults(f: FaultConfig): void {
    this.faults = { ...f };
    this.random = prng(f.seed ?? 1);
    this.counters.requests = 0;
  }

  /** Registers a route; `:name` segments become params. */
  route(method: string, path: string, handler: Handler): this {
    const names: string[] = [];
    const pattern = new RegExp(
      `^${path
        .replace(/[.*+?^${}()|[\]\\]/g, (c) => (c === ':' ? c : `\\${c}`))
        .replace(/:([a-zA-Z]+)/g, (_m, n: string) => {
          names.push(n);
          return '([^/]+)';
        })}$`,
    );
    this.routes.push({ method, pattern, names, handler });
    return this;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    this.server = createServer((req, res) => {
      void this.handle(req, res);
    });
    await new Promise<void>((resolve) => this.server!.listen(port, host, resolve));
    const addr = this.server.address() as AddressInfo;
    return `http://${host}:${addr.port}`;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const body = Buffer.concat(chunks).toString('utf8');
    const sreq: SandboxRequest = {
      method: req.method ?? 'GET',
      url,
      headers: req.headers,
      body,
      json: () => JSON.parse(body),
    };
    this.counters.requests++;
    const key = `${sreq.method} ${url.pathname}`;
    this.requestsByPath.set(key, (this.requestsByPath.get(key) ?? 0) + 1);
    try {
      this.onRequest?.(key);
      const fault = this.drawFault(url.pathname);
      if (fault === 'drop') {
        req.socket.destroy();
        return;
      }
      if (fault === 'slow') await new Promise((r) => setTimeout(r, this.faults.slowMs ?? 200));
      let out: SandboxResponse;
      const next = this.scripted.shift();
      if (next) out = this.opts.vendor[next]();
      else if (!this.authorised(sreq)) out = this.unauthorised(req);
      else if (fault === 'daily') out = this.opts.vendor.dailyLimited();
      else if (fault === 'rate') out = this.opts.vendor.rateLimited();
      else if (fault === '5xx') out = this.opts.vendor.serverError();
      else out = await this.dispatch(sreq);
      out = this.tamper?.(key, out) ?? out;
      if (this.opts.record) this.exchanges.push(exchange(sreq, out));
      await send(res, out);
    } catch (err) {
      if (!res.headersSent)
        await send(res, { status: 500, body: { message: `sandbox error: ${(err as Error).message}` } });
      // A streamed body that fails half-way (or a fault that drops it) must end the connection,
      // not leave the client waiting for bytes that never come.
      else res.destroy();
    }
  }

  private bearer(req: { headers: IncomingMessage['headers'] }): string {
    const auth = req.headers.authorization ?? '';
    return auth.startsWith('Bearer ') ? auth.slice('Bearer '.length) : '';
  }

  private authorised(req: SandboxRequest): boolean {
    const own = this.opts.authenticate?.(req);
    if (own !== undefined) return own;
    return !this.authRequired || this.tokens.has(this.bearer(req));
  }

  /** The vendor's 401: for an expired token its `expired` answer when it has one. */
  private unauthorised(req: IncomingMessage): SandboxResponse {
    const { expired, unauthorized } = this.opts.vendor;
    return expired && this.known.has(this.bearer(req)) ? expired() : unauthorized();
  }

  private drawFault(path: string): 'drop' | 'slow' | 'daily' | 'rate' | '5xx' | null {
    const f = this.faults;
    if (f.exempt?.test(path)) return null;
    if (f.dailyLimit !== undefined && this.counters.requests > f.dailyLimit) return 'daily';
    const r = this.random();
    let edge = 0;
    for (const [kind, rate] of [
      ['drop', f.dropRate],
      ['rate', f.rateLimitRate],
      ['5xx', f.serverErrorRate],
      ['slow', f.slowRate],
    ] as const) {
      edge += rate ?? 0;
      if (r < edge) {
        this.counters.faulted++;
        return kind;
      }
    }
    return null;
  }

  private async dispatch(req: SandboxRequest): Promise<SandboxResponse> {
    for (const route of this.routes) {
      if (route.method !== req.method) continue;
      const m = route.pattern.exec(req.url.pathname);
      if (!m) continue;
      const params: Record<string, string> = {};
      route.names.forEach((n, i) => {
        params[n] = decodeURIComponent(m[i + 1] ?? '');
      });
      return route.handler(req, params);
    }
    return { status: 404, body: { message: `no route for ${req.method} ${req.url.pathname}` } };
  }
}

function exchange(req: SandboxRequest, out: SandboxResponse): SandboxExchange {
  let body: unknown = req.body;
  try {
    body = req.body ? JSON.parse(req.body) : undefined;
  } catch {
    // Not JSON: kept as text.
  }
  return {
    method: req.method,
    path: req.url.pathname,
    query: Object.fromEntries(req.url.searchParams),
    headers: req.headers,
    body,
    status: out.status,
    response: out.stream || out.text !== undefined ? undefined : out.body,
  };
}

async function send(res: ServerResponse, out: SandboxResponse): Promise<void> {
  const headers = { ...out.headers };
  if (out.stream) {
    res.writeHead(out.status, headers);
    for await (const piece of out.stream) {
      if (!res.write(piece)) await new Promise((r) => res.once('drain', r));
    }
    res.end();
    return;
  }
  let payload: string | Buffer = '';
  if (out.text !== undefined) payload = out.text;
  else if (out.body !== undefined) {
    payload = JSON.stringify(out.body);
    headers['content-type'] ??= 'application/json';
  }
  res.writeHead(out.status, headers);
  res.end(payload);
}

// The HTTP side of `serve` on node:http: /healthz (the process answers), /readyz (it can work),
// /metrics (Prometheus text) and a small JSON API under /api. Bound to 127.0.0.1 by default; on
// any other address every route but the two probes requires `Authorization: Bearer <token>`.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TrueupError } from '../../staging/model/errors.js';

/** A request the client got wrong (400, or `status`). */
export class HttpError extends TrueupError {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Route {
  method: 'GET' | 'POST';
  /** Path segments; a segment starting with ':' is a parameter. */
  path: string;
  handle(req: {
    params: Record<string, string>;
    query: URLSearchParams;
    body: unknown;
  }): Promise<{ status?: number; json?: unknown; text?: string; contentType?: string }>;
}

export interface HttpOptions {
  host: string;
  port: number;
  /** Required on every route but /healthz and /readyz when set. */
  token?: string;
  routes: readonly Route[];
  onError?: (err: unknown, req: IncomingMessage) => void;
}

const OPEN_PATHS = new Set(['/healthz', '/readyz']);
const MAX_BODY = 64 * 1024;

function authorized(req: IncomingMessage, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]!.trim());
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** The route's parameters when `parts` is its path (whatever the method), else undefined. */
function match(route: Route, parts: string[]): Record<string, string> | undefined {
  const want = route.path.split('/').filter(Boolean);
  if (want.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, w] of want.entries()) {
    const p = parts[i]!;
    if (w.startsWith(':')) params[w.slice(1)] = p;
    else if (w !== p) return undefined;
  }
  return params;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `the request body is larger than ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'the request body is not JSON');
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  contentType: string,
  extra: Record<string, string> = {},
) {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store', ...extra });
  res.end(body);
}

const sendJson = (res: ServerResponse, status: number, value: unknown, extra?: Record<string, string>) =>
  send(res, status, `${JSON.stringify(value, null, 2)}\n`, 'application/json; charset=utf-8', extra);

export interface RunningHttp {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startHttp(o: HttpOptions): Promise<RunningHttp> {
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://serve');
      try {
        if (o.token && !OPEN_PATHS.has(url.pathname) && !authorized(req, o.token)) {
          sendJson(
            res,
            401,
            { error: 'a bearer token is required' },
            { 'www-authenticate': 'Bearer realm="trueup"' },
          );
          return;
        }
        const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
        const method = req.method ?? 'GET';
        let found: { route: Route; params: Record<string, string> } | undefined;
        let pathKnown = false;
        for (const route of o.routes) {
          const params = match(route, parts);
          if (!params) continue;
          pathKnown = true;
          if (route.method === method) {
            found = { route, params };
            break;
          }
        }
        if (!found) {
          sendJson(res, pathKnown ? 405 : 404, {
            error: pathKnown ? `${method} is not allowed here` : 'not found',
          });
          return;
        }
        const body = method === 'POST' ? await readBody(req) : undefined;
        const out = await found.route.handle({ params: found.params, query: url.searchParams, body });
        if (out.text !== undefined)
          send(res, out.status ?? 200, out.text, out.contentType ?? 'text/plain; charset=utf-8');
        else sendJson(res, out.status ?? 200, out.json ?? {});
      } catch (err) {
        if (err instanceof HttpError) sendJson(res, err.status, { error: err.message });
        else {
          o.onError?.(err, req);
          if (!res.headersSent) sendJson(res, 500, { error: (err as Error)?.message ?? 'internal error' });
          else res.end();
        }
      }
    })();
  });
  // Keep-alive connections of a scraper must not hold the process open at shutdown.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

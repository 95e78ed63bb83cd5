// What the shared HTTP client checks while a response body arrives, before any connector reads it:
// an idle timeout (no byte for idleMs), a size cap (maxBodyBytes, default 64 MiB: one page or
// result chunk must not exhaust memory), and that the bytes are UTF-8 (every vendor body is JSON
// or CSV in UTF-8; silent U+FFFD replacement would stage mangled text). Each failure is an
// ApiError naming tenant, system and request: idle and invalid bytes are transient (re-read),
// too large is terminal (the same request gets the same body). Then readJsonBody: a JSON body
// decoded strictly and checked against the page's schema.
import { isUtf8 } from 'node:buffer';
import { ApiError, asApiError } from './api-errors.js';

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface BodyTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

export interface BodyGuard {
  idleMs: number;
  maxBytes: number;
  detail: ApiError['detail'];
  timers: BodyTimers;
  /** Aborts the fetch (and so the pending read) on an idle timeout. */
  controller: AbortController;
}

/** "tenant t, system s: vendor METHOD path", the start of every body error's message. */
export function requestLabel(d: ApiError['detail']): string {
  return `tenant ${d.tenant}, system ${d.system}: ${d.vendor} ${d.method} ${d.path}`;
}

export function bodyTooLarge(
  d: ApiError['detail'],
  status: number,
  maxBytes: number,
  seen: string,
): ApiError {
  return new ApiError(
    `${requestLabel(d)}: the response body is larger than ${maxBytes} bytes (${seen}); raise limits.maxBodyBytes or ask for smaller pages`,
    'terminal',
    status,
    'BODY_TOO_LARGE',
    d,
  );
}

export function invalidUtf8(d: ApiError['detail'], status: number, offset: number): ApiError {
  return new ApiError(
    `${requestLabel(d)}: the response body is not valid UTF-8 (first bad byte at offset ${offset})`,
    'transient',
    status,
    'INVALID_UTF8',
    d,
  );
}

/** A zod schema, or anything with the same safeParse. */
export interface PageSchema<T> {
  safeParse(
    v: unknown,
  ):
    | { success: true; data: T }
    | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

/**
 * A 200's JSON body: decoded as strict UTF-8, parsed, and checked against `schema` when given.
 * Each failure is a transient ApiError (INVALID_UTF8, BAD_JSON, BAD_PAGE) naming the request
 * (`where`) and quoting the start of the body; an empty body is `undefined` (which a page schema
 * rejects).
 */
export async function readJsonBody<T>(
  res: Response,
  how: { detail: ApiError['detail']; where: string; schema?: PageSchema<T> | undefined },
): Promise<T> {
  const { detail, where, schema } = how;
  const bytes = await res.arrayBuffer().catch((err: unknown) => {
    throw asApiError(err, `${where}: body`, detail);
  });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalidUtf8(detail, res.status, firstInvalidUtf8(new Uint8Array(bytes)) ?? 0);
  }
  const bad = (code: string, what: string) =>
    new ApiError(`${where} → ${res.status}: ${what}`, 'transient', res.status, code, detail);
  let value: unknown;
  if (text) {
    try {
      value = JSON.parse(text);
    } catch {
      throw bad('BAD_JSON', `response is not JSON (${JSON.stringify(text.slice(0, 80))}…)`);
    }
  }
  if (!schema) return value as T;
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues
    .slice(0, 3)
    .map((i) => `${i.path.map(String).join('.') || '(body)'}: ${i.message}`)
    .join('; ');
  const body = text ? JSON.stringify(text.slice(0, 80)) : 'empty';
  throw bad('BAD_PAGE', `the response is not a page that can be read (${issues}); body ${body}`);
}

/**
 * The response with a guarded body (see the header). A Content-Length above the cap fails at
 * once; the body is counted as it arrives, so a server that sends no length is cut at the cap.
 */
export function guardedResponse(res: Response, g: BodyGuard): Response {
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (declared > g.maxBytes) {
    void res.body?.cancel().catch(() => {});
    throw bodyTooLarge(g.detail, res.status, g.maxBytes, `Content-Length ${declared}`);
  }
  if (!res.body) return res;
  const reader = res.body.getReader();
  const { detail, timers, controller } = g;
  const idle = new ApiError(
    `${requestLabel(detail)}: no data for ${g.idleMs} ms while reading the body`,
    'transient',
    res.status,
    'IDLE_TIMEOUT',
    detail,
  );
  const utf8 = new Utf8Stream();
  let bytes = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(out) {
      const timer = timers.setTimeout(() => controller.abort(idle), g.idleMs);
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        out.error(
          asApiError(
            controller.signal.aborted ? controller.signal.reason : err,
            `${requestLabel(detail)}: body`,
            detail,
          ),
        );
        return;
      } finally {
        timers.clearTimeout(timer);
      }
      const failed = (err: ApiError) => {
        void reader.cancel(err).catch(() => {});
        out.error(err);
      };
      if (chunk.done) {
        const bad = utf8.end();
        if (bad !== null) failed(invalidUtf8(detail, res.status, bad));
        else out.close();
        return;
      }
      bytes += chunk.value.byteLength;
      if (bytes > g.maxBytes)
        return failed(bodyTooLarge(detail, res.status, g.maxBytes, 'cut while reading'));
      const bad = utf8.feed(chunk.value);
      if (bad !== null) return failed(invalidUtf8(detail, res.status, bad));
      out.enqueue(chunk.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

/**
 * Checks UTF-8 across chunks: a sequence split between two chunks is carried over. The fast path
 * is node's native isUtf8; the byte offset of the first bad byte is found only on failure.
 */
export class Utf8Stream {
  private carry = new Uint8Array(0);
  private offset = 0;

  /** The offset (in the whole body) of the first invalid byte, or null. */
  feed(chunk: Uint8Array): number | null {
    const bytes = this.carry.length ? concat(this.carry, chunk) : chunk;
    const start = this.offset - this.carry.length;
    const cut = completeLength(bytes);
    const whole = bytes.subarray(0, cut);
    if (!isUtf8(whole)) return start + (firstInvalidUtf8(whole) ?? 0);
    this.carry = bytes.slice(cut);
    this.offset += chunk.byteLength;
    return null;
  }

  /** At the end of the body: a sequence left incomplete is invalid. */
  end(): number | null {
    if (!this.carry.length) return null;
    return this.offset - this.carry.length + (firstInvalidUtf8(this.carry) ?? 0);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** The length of `bytes` without a trailing multi-byte sequence that is still incomplete. */
function completeLength(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const b = bytes[bytes.length - back]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? bytes.length - back : bytes.length;
  }
  return bytes.length;
}

/** The offset of the first byte that does not start or continue a valid UTF-8 sequence; null if none. */
export function firstInvalidUtf8(bytes: Uint8Array): number | null {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0; // overlong
      if (b === 0xed) hi = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90; // overlong
      if (b === 0xf4) hi = 0x8f; // beyond U+10FFFF
    } else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < lo || c > hi) return i;
      lo = 0x80;
      hi = 0xbf;
    }
    i += need + 1;
  }
  return null;
}

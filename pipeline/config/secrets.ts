// Secrets in the config are references — `${env:NAME}` or `${file:/path}` — never literal text.
// They are resolved once, at load, and every resolved value is remembered so that the logger
// and the error printer can redact it wherever it appears.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const SECRET_REF = /\$\{(env|file):([^}]+)\}/g;
export const WHOLE_SECRET_REF = /^\$\{(env|file):[^}]+\}$/;

const known = new Set<string>();

/** Registers a value to be redacted from every log line and printed error. */
export function registerSecret(value: string): void {
  if (value.length >= 4) known.add(value);
}

export function knownSecrets(): ReadonlySet<string> {
  return known;
}

// The password of `scheme://user:password@host`: everything up to the LAST '@' before the host
// (pg accepts an unencoded '@' in a password, so the first '@' may be inside it). The run stops
// at whitespace, '/', or a '"' that is not escaped, so it never reaches past the URL into the
// next field of a JSON log line.
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#\s@"]+:)((?:[^\s/"\\]|\\.)+)(@)/gi;
// `?password=…` / `&sslpassword=…` in a connection URL's query.
const QUERY_PASSWORD = /([?&](?:ssl)?password=)([^&#\s"]+)/gi;
// `password=…` in a libpq key=value connection string: a quoted value or up to whitespace.
const KV_PASSWORD = /((?:^|[\s"'(,;])(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'"][^\s"]*)/gi;

/** `s` as it appears inside a JSON string (a quote or backslash is escaped there). */
function jsonEscaped(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

/**
 * Replaces every registered secret and any connection password (URL userinfo, `?password=`,
 * key=value `password=`) in `text` with "***". Log lines are JSON, where a secret holding a
 * quote, backslash or control character appears escaped, so that form is redacted too (first:
 * it is the longer one). The URL-encoded form is redacted as well.
 */
export function redact(text: string): string {
  let out = text
    .replace(URL_PASSWORD, '$1***$3')
    .replace(QUERY_PASSWORD, '$1***')
    .replace(KV_PASSWORD, (m, head: string, value: string) => (value === '***' ? m : `${head}***`));
  for (const s of known) {
    for (const form of new Set([jsonEscaped(s), s, encodeURIComponent(s)]))
      if (out.includes(form)) out = out.split(form).join('***');
  }
  return out;
}

export class SecretResolutionError extends Error {
  override name = 'SecretResolutionError';
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

/** Resolves every `${env:…}` / `${file:…}` inside a string; the env is passed in, not read here. */
export function resolveRefs(
  text: string,
  path: string,
  env: Readonly<Record<string, string | undefined>>,
  /** Folder a relative `${file:…}` path is relative to (the config file's); else the working directory. */
  baseDir?: string,
): string {
  return text.replace(SECRET_REF, (_m, kind: string, name: string) => {
    let value: string;
    if (kind === 'env') {
      const v = env[name];
      if (v === undefined || v === '')
        throw new SecretResolutionError(path, `environment variable ${name} is not set`);
      value = v;
    } else {
      try {
        value = readFileSync(baseDir ? resolve(baseDir, name) : name, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        throw new SecretResolutionError(
          path,
          `cannot read secret file ${name}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
        );
      }
    }
    registerSecret(value);
    return value;
  });
}

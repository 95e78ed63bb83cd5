// Secrets in the config are references — `${env:NAME}` or `${file:/path}` — never literal text.
// They are resolved once, at load, and every resolved value is remembered so that the logger
// and the error printer can redact it wherever it appears.
import { readFileSync } from 'node:fs';

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

const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]+:)([^@/\s]+)(@)/gi;

/** Replaces every registered secret and any URL password in `text` with "***". */
export function redact(text: string): string {
  let out = text.replace(URL_PASSWORD, '$1***$3');
  for (const s of known) if (out.includes(s)) out = out.split(s).join('***');
  for (const s of known) {
    const enc = encodeURIComponent(s);
    if (enc !== s && out.includes(enc)) out = out.split(enc).join('***');
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
        value = readFileSync(name, 'utf8').replace(/\r?\n$/, '');
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

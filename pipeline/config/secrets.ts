// Secrets in the config are references — `${env:NAME}` or `${file:/path}` — never literal text.
// They are resolved once, at load, and every resolved value is registered with the redaction
// registry (pipeline/log/redact.ts) so that the logger and the error printer can hide it.
import { readFileSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { TrueupError } from '../../staging/model/errors.js';
import { SECRET_REF } from '../../staging/model/tenant-config.js';
import { registerSecret } from '../log/redact.js';

export { SECRET_REF, WHOLE_SECRET_REF } from '../../staging/model/tenant-config.js';
export { knownSecrets, redact, registerSecret } from '../log/redact.js';

export class SecretResolutionError extends TrueupError {
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
  /** More folders `${file:…}` may read under (config `secrets.allowedDirs`, relative to baseDir). */
  allowedDirs: readonly string[] = [],
): string {
  return text.replace(SECRET_REF, (_m, kind: string, name: string) => {
    let value: string;
    if (kind === 'env') {
      const v = env[name];
      if (v === undefined || v === '')
        throw new SecretResolutionError(path, `environment variable ${name} is not set`);
      value = v;
    } else {
      const file = baseDir ? resolve(baseDir, name) : resolve(name);
      try {
        // Only under the config's folder, /run/secrets and the configured folders (after symlinks):
        // a config that may name any file could read the host's keys into a request header.
        const real = realpathSync(file);
        const allowed = secretFolders(baseDir, allowedDirs);
        if (!allowed.some((dir) => isUnder(real, dir)))
          throw new SecretResolutionError(
            path,
            `secret file ${file} is outside the folders secrets may be read from (${allowed.join(', ')}); ` +
              'move it there or add its folder to secrets.allowedDirs',
          );
        value = readFileSync(real, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        if (err instanceof SecretResolutionError) throw err;
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

/** The folders `${file:…}` may read under: the config's folder (else the working directory), /run/secrets, the configured ones. */
export function secretFolders(baseDir: string | undefined, allowedDirs: readonly string[]): string[] {
  const base = baseDir ?? process.cwd();
  return [base, '/run/secrets', ...allowedDirs.map((d) => resolve(base, d))].map((d) => {
    try {
      return realpathSync(d);
    } catch {
      return d;
    }
  });
}

function isUnder(file: string, dir: string): boolean {
  const rel = relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

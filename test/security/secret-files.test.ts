// `${file:…}` secrets are read only under the config's folder, /run/secrets and the folders named in
// `secrets.allowedDirs`; any other path (also through a symlink) is a config error naming it.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveRefs, SecretResolutionError } from '../../pipeline/config/secrets.js';

const root = mkdtempSync(join(tmpdir(), 'trueup-secrets-'));
const configDir = join(root, 'config');
const vault = join(root, 'vault');
const elsewhere = join(root, 'elsewhere');
for (const d of [configDir, vault, elsewhere]) mkdirSync(d);
writeFileSync(join(configDir, 'token'), 'in-config\n');
writeFileSync(join(vault, 'token'), 'in-vault\n');
writeFileSync(join(elsewhere, 'token'), 'elsewhere\n');
symlinkSync(join(elsewhere, 'token'), join(configDir, 'link'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('secret files', () => {
  it('reads under the config folder and the allowed folders', () => {
    expect(resolveRefs('${file:token}', 'a', {}, configDir)).toBe('in-config');
    expect(resolveRefs(`\${file:${join(vault, 'token')}}`, 'a', {}, configDir, ['../vault'])).toBe(
      'in-vault',
    );
  });

  it('refuses any other path, naming it, also through a symlink or ..', () => {
    for (const ref of [
      `\${file:${join(elsewhere, 'token')}}`,
      '${file:../elsewhere/token}',
      '${file:link}',
      '${file:/etc/hostname}',
    ])
      expect(() => resolveRefs(ref, 'tenants.a.systems.s.token', {}, configDir, ['../vault'])).toThrow(
        SecretResolutionError,
      );
    expect(() => resolveRefs('${file:../elsewhere/token}', 'x', {}, configDir)).toThrow(
      /secret file .*elsewhere\/token is outside the folders/,
    );
  });
});

// Locates trueup's package root (where package.json and sql/ live), the same from the
// TypeScript sources (vitest) and from dist/ (the installed CLI).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'sql'))) {
      cached = dir;
      return dir;
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the trueup package root (package.json beside sql/)');
    dir = up;
  }
}

export function sqlPath(...parts: string[]): string {
  return join(packageRoot(), 'sql', ...parts);
}

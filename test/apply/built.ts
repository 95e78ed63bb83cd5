// The crash test runs the compiled CLI: it must not test old code of the apply step.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../staging/package-root.js';

export function assertBuilt(): void {
  const root = packageRoot();
  const sources = [
    ...readdirSync(join(root, 'pipeline/apply')).map((f) => `pipeline/apply/${f}`),
    'pipeline/cli/commands/actions-apply.ts',
    'pipeline/connectors/postgres/writer.ts',
    'pipeline/connectors/postgres/writer-rows.ts',
    'pipeline/connectors/hubspot/hubspot-reader.ts',
  ].filter((f) => f.endsWith('.ts'));
  for (const file of sources) {
    const js = join(root, 'dist', file.replace(/\.ts$/, '.js'));
    if (!existsSync(js) || statSync(join(root, file)).mtimeMs > statSync(js).mtimeMs)
      throw new Error(
        `dist/ is older than ${file}: run \`npm run build\` first (\`npm test\` does it before vitest)`,
      );
  }
}

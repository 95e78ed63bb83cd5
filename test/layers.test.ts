// The layer map of docs/layers.md, enforced: Biome's noRestrictedImports (per-folder overrides in
// biome.json) rejects an import that points up or sideways, and no import cycle exists.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importCycles, importGraph } from './support/import-graph.js';

const root = join(import.meta.dirname, '..');
const biome = join(root, 'node_modules/.bin/biome');
const run = promisify(execFile);

// Biome's stdin mode (`biome lint --stdin-file-path=…`) prints no diagnostics and exits 1 even
// for a clean file (2.6.8), so the probes are real files in a scratch copy of the project that
// carries the repository's own biome.json: the same overrides, the same relative paths.
let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'trueup-layers-'));
  await copyFile(join(root, 'biome.json'), join(scratch, 'biome.json'));
});
afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function lint(
  files: Record<string, string>,
  reporter: 'json' | 'default',
): Promise<{ code: number; out: string; err: string }> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(scratch, path)), { recursive: true });
    await writeFile(join(scratch, path), text);
  }
  const args = ['lint', '--vcs-enabled=false', '--max-diagnostics=none', `--reporter=${reporter}`];
  try {
    const { stdout, stderr } = await run(biome, [...args, ...Object.keys(files)], { cwd: scratch });
    return { code: 0, out: stdout, err: stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout, err: e.stderr };
  }
}

describe('the layer rules (biome.json, docs/layers.md)', () => {
  it('a connector importing a reconciler fails lint, naming the rule and the layers', async () => {
    const probe =
      "import type { ReconcilePool } from '../../reconcilers/pool.js';\nexport type P = ReconcilePool;\n";
    const { code, out: stdout, err } = await lint({ 'pipeline/connectors/probe.ts': probe }, 'default');
    const out = stdout + err;
    expect(code).not.toBe(0);
    expect(out).toContain('lint/style/noRestrictedImports');
    expect(out).toContain('Layer rule: pipeline/connectors/ (layer 2) must not import reconcilers/ (layer 2');
  });

  // [file, import specifier, a fragment of the rule's message, or null where the import is allowed]
  const cases: [string, string, string | null][] = [
    ['pipeline/connectors/postgres/probe.ts', '../../../reconcilers/pool.js', 'side by side'],
    ['reconcilers/match/probe.ts', '../../pipeline/connectors/registry.js', 'side by side'],
    ['reconcilers/probe.ts', '../reports/overview.js', 'must not import reports/ (layer 3)'],
    ['reconcilers/probe.ts', '../pipeline/config/schema.js', 'reconcilers/ is layer 2'],
    ['pipeline/connectors/probe.ts', '../config/schema.js', 'application layer (layer 4'],
    ['pipeline/connectors/probe.ts', '../runtime.js', 'application layer (layer 4'],
    ['staging/probe.ts', '../reconcilers/compare.js', 'are layer 1'],
    ['staging/tables/probe.ts', '../../pipeline/embedded/server.js', 'are layer 1'],
    ['pipeline/generator/probe.ts', '../connectors/registry.js', 'are layer 1'],
    ['staging/model/probe.ts', '../stage.js', 'staging/model/ is layer 0'],
    ['staging/model/probe.ts', '../../pipeline/log/logger.js', 'staging/model/ is layer 0'],
    ['pipeline/log/probe.ts', '../config/secrets.js', 'pipeline/log/ is layer 0'],
    ['reports/probe.ts', '../pipeline/cli/main.js', 'reports/ is layer 3'],
    ['reports/probe.ts', '../pipeline/serve/server.js', 'reports/ is layer 3'],
    ['staging/model/probe.ts', './money.js', null],
    ['pipeline/log/probe.ts', '../../staging/model/errors.js', null],
    ['staging/probe.ts', './model/change.js', null],
    ['staging/control/probe.ts', '../../pipeline/log/logger.js', null],
    ['pipeline/generator/probe.ts', '../../staging/stage.js', null],
    ['pipeline/connectors/probe.ts', '../../staging/checkpoints.js', null],
    ['pipeline/connectors/hubspot/probe.ts', '../http/api-client.js', null],
    ['reconcilers/probe.ts', '../pipeline/generator/prng.js', null],
    ['reports/probe.ts', '../reconcilers/compare.js', null],
    ['pipeline/cli/probe.ts', '../../reconcilers/compare.js', null],
    ['pipeline/embedded/probe.ts', '../../staging/database.js', null],
  ];

  it('each layer imports only from below (type-only, re-exports and dynamic imports too)', async () => {
    const files: Record<string, string> = {};
    const want = new Map<string, string | null>();
    cases.forEach(([file, spec, message], i) => {
      const path = file.replace('probe.ts', `probe${i}.ts`);
      const form = [
        `import { x } from '${spec}';\nexport const y = x;\n`,
        `import type { X } from '${spec}';\nexport type Y = X;\n`,
        `export { x } from '${spec}';\n`,
        `export const y = () => import('${spec}');\n`,
      ][i % 4]!;
      files[path] = form;
      want.set(path, message);
    });
    const { out } = await lint(files, 'json');
    const report = JSON.parse(out) as {
      diagnostics: { category: string; message: string; location: { path: string } }[];
    };
    const got = new Map<string, string[]>();
    for (const d of report.diagnostics)
      if (d.category === 'lint/style/noRestrictedImports')
        got.set(d.location.path, [...(got.get(d.location.path) ?? []), d.message]);
    const wrong: string[] = [];
    for (const [path, message] of want) {
      const messages = got.get(path) ?? [];
      if (message === null && messages.length) wrong.push(`${path} rejected: ${messages.join(' | ')}`);
      if (message !== null && !messages.some((m) => m.includes(message)))
        wrong.push(`${path} not rejected with "${message}": ${messages.join(' | ') || 'no diagnostic'}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('the import graph', () => {
  it('has no cycle, type-only or not, in pipeline/, staging/, reconcilers/, reports/', () => {
    const graph = importGraph(root, ['pipeline', 'staging', 'reconcilers', 'reports']);
    expect(graph.size).toBeGreaterThan(50);
    const cycles = importCycles(graph).map((cycle) => cycle.join(' → '));
    if (cycles.length) console.error(`import cycles:\n${cycles.map((c) => `  ${c}`).join('\n')}`);
    expect(cycles).toEqual([]);
  });
});

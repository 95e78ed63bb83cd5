// Every fenced block marked ```sh runnable in README.md and docs/*.md is run, line by line, as a
// newcomer would: `trueup` / `npx trueup` is the built binary, TRUEUP_HOME a fresh folder (so the
// embedded default starts its own Postgres), the working directory the repository. `npm ci` and
// `npm test` lines are skipped (the suite is what runs this). A line that exits non-zero fails
// the test, naming the file, the line and its output.
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'dist', 'pipeline', 'cli', 'bin.js');

interface Block {
  file: string;
  line: number;
  commands: { line: number; text: string }[];
}

/** The runnable blocks of a Markdown file, each command with its line number. */
function runnableBlocks(file: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```sh\s+runnable\s*$/.test(lines[i]!)) continue;
    const block: Block = { file, line: i + 1, commands: [] };
    for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) {
      const cmd = lines[i]!.replace(/\s+#.*$/, '').trim();
      if (!cmd || cmd.startsWith('#') || /^npm (ci|test)\b/.test(cmd)) continue;
      block.commands.push({ line: i + 1, text: cmd.replace(/^npx trueup\b/, 'trueup') });
    }
    blocks.push(block);
  }
  return blocks;
}

async function docs(): Promise<{ file: string; text: string }[]> {
  const files = ['README.md', ...(await readdir(join(ROOT, 'docs'))).map((f) => join('docs', f))];
  return Promise.all(
    files
      .filter((f) => f.endsWith('.md'))
      .map(async (file) => ({ file, text: await readFile(join(ROOT, file), 'utf8') })),
  );
}

let home: string;
let shims: string;
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'trueup-docs-'));
  // As root the embedded cluster runs as the postgres user, which must be able to enter the folder.
  await chmod(home, 0o711);
  shims = join(home, 'bin');
  await mkdir(shims);
  await writeFile(join(shims, 'trueup'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  await chmod(join(shims, 'trueup'), 0o755);
});
afterAll(async () => {
  // The embedded cluster the blocks started stops with the last command that used it.
  await rm(home, { recursive: true, force: true });
});

describe('runnable blocks in README.md and docs/', () => {
  it('finds some', async () => {
    const all = (await docs()).flatMap((d) => runnableBlocks(d.file, d.text));
    expect(all.length).toBeGreaterThan(0);
  });

  it('runs every command of every runnable block', async () => {
    const env: Record<string, string | undefined> = {
      ...process.env,
      PATH: `${shims}:${process.env.PATH}`,
      TRUEUP_HOME: join(home, 'trueup'),
      TRUEUP_DATABASE_URL: '',
      TRUEUP_CONFIG: '',
    };
    for (const d of await docs())
      for (const block of runnableBlocks(d.file, d.text))
        for (const c of block.commands) {
          const res = await run('bash', ['-ec', c.text], { cwd: ROOT, env, timeout: 120_000 }).then(
            (r) => ({ code: 0, out: r.stdout + r.stderr }),
            (e: { code?: number; stdout?: string; stderr?: string }) => ({
              code: e.code ?? 1,
              out: `${e.stdout ?? ''}${e.stderr ?? ''}`,
            }),
          );
          expect(res.code, `${d.file}:${c.line}: ${c.text}\n${res.out}`).toBe(0);
        }
  });
});

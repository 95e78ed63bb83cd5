// Every fenced block marked ```sh runnable in README.md and docs/*.md is run, line by line, as a
// newcomer would: `trueup` / `npx trueup` is the built binary, TRUEUP_HOME a fresh folder (so the
// embedded default starts its own Postgres), the working directory the repository. `npm ci` and
// `npm test` lines are skipped (the suite is what runs this).
//
// Blocks marked ```sh runnable demo run against the demo's tenants, as docs/demo.md tells a user
// to: `trueup demo --keep` is started once (in its own TRUEUP_HOME, while the fresh-home blocks
// run), and each line runs with TRUEUP_CONFIG set to the config the demo wrote, in a scratch
// working directory (a line may write a file). The demo is stopped with SIGINT at the end, as a
// Ctrl-C stops it. A line that exits non-zero fails the test, naming the file, the line and its
// output.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'dist', 'pipeline', 'cli', 'bin.js');
/** Customers per demo tenant: enough for every class, small enough to be quick. */
const DEMO_CUSTOMERS = '30';

type Where = 'fresh' | 'demo';

interface Block {
  file: string;
  line: number;
  where: Where;
  commands: { line: number; text: string }[];
}

/** The runnable blocks of a Markdown file, each command with its line number. */
function runnableBlocks(file: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^```sh\s+runnable(\s+demo)?\s*$/.exec(lines[i]!);
    if (!m) continue;
    const block: Block = { file, line: i + 1, where: m[1] ? 'demo' : 'fresh', commands: [] };
    for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) {
      const cmd = lines[i]!.replace(/\s+#.*$/, '')
        .replace(/^\s*\$\s+/, '')
        .trim();
      if (!cmd || cmd.startsWith('#') || /^npm (ci|test)\b/.test(cmd)) continue;
      block.commands.push({ line: i + 1, text: cmd.replace(/^npx trueup\b/, 'trueup') });
    }
    blocks.push(block);
  }
  return blocks;
}

async function allBlocks(): Promise<Block[]> {
  const files = ['README.md', ...(await readdir(join(ROOT, 'docs'))).map((f) => join('docs', f))];
  const docs = await Promise.all(
    files
      .filter((f) => f.endsWith('.md'))
      .map(async (file) => ({ file, text: await readFile(join(ROOT, file), 'utf8') })),
  );
  return docs.flatMap((d) => runnableBlocks(d.file, d.text));
}

async function runLines(block: Block, env: Record<string, string | undefined>, cwd: string): Promise<void> {
  for (const c of block.commands) {
    const t0 = Date.now();
    const res = await run('bash', ['-ec', c.text], { cwd, env, timeout: 120_000 }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({
        code: e.code ?? 1,
        out: `${e.stdout ?? ''}${e.stderr ?? ''}`,
      }),
    );
    if (process.env.TRUEUP_TEST_TIMINGS)
      console.log(`${Date.now() - t0} ms  ${block.file}:${c.line}: ${c.text}`);
    expect(res.code, `${block.file}:${c.line}: ${c.text}\n${res.out}`).toBe(0);
  }
}

let home: string;
let shims: string;
let blocks: Block[];
let demo: ChildProcess | undefined;
let demoOut = '';
/** Resolves when the demo keeps running (its config written, serve up); rejects if it ends first. */
let demoReady: Promise<void> | undefined;
const demoHome = () => join(home, 'demo-home');

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'trueup-docs-'));
  // As root the embedded cluster runs as the postgres user, which must be able to enter the folder.
  await chmod(home, 0o711);
  shims = join(home, 'bin');
  await mkdir(shims);
  await writeFile(join(shims, 'trueup'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  await chmod(join(shims, 'trueup'), 0o755);
  blocks = await allBlocks();
  if (!blocks.some((b) => b.where === 'demo')) return;
  await mkdir(demoHome(), { mode: 0o711 });
  await chmod(demoHome(), 0o711);
  await mkdir(join(home, 'work'));
  // Started now, so that it comes up while the fresh-home blocks run.
  const child = spawn(
    process.execPath,
    [BIN, '--log-level', 'warn', 'demo', '--keep', '--port', '0', '--customers', DEMO_CUSTOMERS],
    {
      cwd: ROOT,
      env: { ...process.env, TRUEUP_HOME: demoHome(), TRUEUP_DATABASE_URL: '', TRUEUP_CONFIG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  demo = child;
  demoReady = new Promise<void>((resolve, reject) => {
    const seen = (chunk: Buffer) => {
      demoOut += chunk.toString();
      if (demoOut.includes('The demo keeps running')) resolve();
    };
    child.stdout!.on('data', seen);
    child.stderr!.on('data', seen);
    child.on('exit', (code, signal) =>
      reject(new Error(`trueup demo --keep ended (${code ?? signal}) before it kept running:\n${demoOut}`)),
    );
  });
  // Awaited by the demo blocks' test; a failure before then must not be an unhandled rejection.
  demoReady.catch(() => {});
});

afterAll(async () => {
  if (demo && demo.exitCode === null && demo.signalCode === null) {
    const exited = new Promise<void>((r) => demo!.once('exit', () => r()));
    // A Ctrl-C: serve, the sandboxes and both clusters stop.
    demo.kill('SIGINT');
    const timer = setTimeout(() => demo!.kill('SIGKILL'), 60_000);
    await exited;
    clearTimeout(timer);
  }
  // The embedded cluster the fresh blocks started stops with the last command that used it.
  await rm(home, { recursive: true, force: true });
}, 90_000);

describe('runnable blocks in README.md and docs/', () => {
  it('finds some of each kind', () => {
    expect(blocks.filter((b) => b.where === 'fresh').length).toBeGreaterThan(0);
    expect(blocks.filter((b) => b.where === 'demo').length).toBeGreaterThan(0);
  });

  it('runs every command of every runnable block on a fresh home', async () => {
    const env: Record<string, string | undefined> = {
      ...process.env,
      PATH: `${shims}:${process.env.PATH}`,
      TRUEUP_HOME: join(home, 'trueup'),
      TRUEUP_DATABASE_URL: '',
      TRUEUP_CONFIG: '',
    };
    for (const block of blocks.filter((b) => b.where === 'fresh')) await runLines(block, env, ROOT);
  }, 180_000);

  it("runs every command of every 'runnable demo' block against the demo's tenants", async () => {
    const t0 = Date.now();
    await demoReady;
    if (process.env.TRUEUP_TEST_TIMINGS) console.log(`${Date.now() - t0} ms  waiting for the demo`);
    const env: Record<string, string | undefined> = {
      ...process.env,
      PATH: `${shims}:${process.env.PATH}`,
      TRUEUP_HOME: demoHome(),
      TRUEUP_DATABASE_URL: '',
      TRUEUP_CONFIG: join(demoHome(), 'demo', 'trueup.yaml'),
    };
    for (const block of blocks.filter((b) => b.where === 'demo'))
      await runLines(block, env, join(home, 'work'));
  }, 300_000);
});

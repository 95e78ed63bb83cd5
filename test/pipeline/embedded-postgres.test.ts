// The embedded default shared by several trueup processes: concurrent starts on a fresh folder,
// the starter leaving while another process still uses the cluster, and a cluster or a trueup
// process killed with SIGKILL (stale postmaster.pid, stale start lock).
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbedded } from '../../pipeline/embedded/postgres-server.js';

const BIN = join(import.meta.dirname, '../../dist/pipeline/cli/bin.js');
const run = promisify(execFile);
const homes: string[] = [];

async function freshHome(): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'trueup-embedded-'));
  homes.push(home);
  return home;
}

function postmasterPid(dataDir: string): number | undefined {
  const file = join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  return Number(readFileSync(file, 'utf8').split('\n')[0]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
}

/** Stops a cluster left running (fast shutdown through its postmaster). */
async function stopLeftRunning(dataDir: string): Promise<void> {
  const pid = postmasterPid(dataDir);
  if (!pid || !alive(pid)) return;
  process.kill(pid, 'SIGINT');
  await waitGone(pid);
}

async function query(url: string, sql: string): Promise<unknown[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

afterAll(async () => {
  for (const home of homes) {
    await stopLeftRunning(join(home, 'postgres'));
    await rm(home, { recursive: true, force: true });
  }
});

describe('embedded Postgres shared by several processes', () => {
  it('starts once when two processes start it on a fresh folder at the same time', async () => {
    const home = await freshHome();
    const dataDir = join(home, 'postgres');
    const [a, b] = await Promise.all([startEmbedded({ dataDir }), startEmbedded({ dataDir })]);
    expect(a.url).toBe(b.url);
    expect(await query(a.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await b.release();
    await a.release();
    await stopLeftRunning(dataDir);
  });

  it('runs two CLI commands at once on a fresh TRUEUP_HOME', async () => {
    const home = await freshHome();
    const env = { ...process.env, TRUEUP_HOME: home, TRUEUP_DATABASE_URL: '' };
    const cli = (args: string[]) =>
      run(process.execPath, [BIN, ...args], { env }).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const [migrate, status] = await Promise.all([cli(['migrate']), cli(['status'])]);
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('staging: embedded Postgres');
    await stopLeftRunning(join(home, 'postgres'));
  });

  it('leaves the cluster running while another process still uses it; the last one out stops it', async () => {
    const home = await freshHome();
    const dataDir = join(home, 'postgres');
    const starter = await startEmbedded({ dataDir });
    const pid = postmasterPid(dataDir)!;
    const user = await startEmbedded({ dataDir });
    const other = await startEmbedded({ dataDir });
    const c = new pg.Client({ connectionString: user.url });
    await c.connect();
    await starter.release();
    expect((await c.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    await c.end();
    // Not the last: `other` still uses it.
    await user.release();
    expect(alive(pid)).toBe(true);
    expect(await query(other.url, 'SELECT 3 AS three')).toEqual([{ three: 3 }]);
    await other.release();
    await waitGone(pid);
    expect(alive(pid)).toBe(false);
    // The next process starts it again.
    const next = await startEmbedded({ dataDir });
    expect(await query(next.url, 'SELECT 4 AS four')).toEqual([{ four: 4 }]);
    await next.release();
    expect(postmasterPid(dataDir)).toBeUndefined();
  });

  it('a process reusing a cluster that its starter still holds leaves it running', async () => {
    const home = await freshHome();
    const dataDir = join(home, 'postgres');
    const starter = await startEmbedded({ dataDir });
    const pid = postmasterPid(dataDir)!;
    const user = await startEmbedded({ dataDir });
    await user.release();
    expect(alive(pid)).toBe(true);
    expect(await query(starter.url, 'SELECT 5 AS five')).toEqual([{ five: 5 }]);
    await starter.release();
    await waitGone(pid);
  });

  it('stops the cluster it started when nobody else uses it', async () => {
    const home = await freshHome();
    const dataDir = join(home, 'postgres');
    const server = await startEmbedded({ dataDir });
    const pid = postmasterPid(dataDir)!;
    await server.release();
    await waitGone(pid);
    expect(alive(pid)).toBe(false);
  });

  it('starts again after the postmaster and a trueup process were killed with SIGKILL', async () => {
    const home = await freshHome();
    const dataDir = join(home, 'postgres');
    const first = await startEmbedded({ dataDir });
    const pid = postmasterPid(dataDir)!;
    process.kill(pid, 'SIGKILL');
    await waitGone(pid);
    // Let the postmaster's children notice its death and detach from shared memory.
    await new Promise((r) => setTimeout(r, 1000));
    expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(true);
    // A trueup process killed while it held the start lock leaves the lock with a dead pid.
    const dead = spawnSync(process.execPath, ['-e', 'process.pid']).pid;
    await writeFile(join(home, 'postgres.trueup.lock'), String(dead));
    const second = await startEmbedded({ dataDir });
    expect(await query(second.url, 'SELECT 4 AS four')).toEqual([{ four: 4 }]);
    await second.release();
    await first.release().catch(() => {});
    await stopLeftRunning(dataDir);
  });
});

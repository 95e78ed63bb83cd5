// Sharing one embedded cluster between trueup processes (postgres-server.ts starts it): a lock
// file serialises check-initialise-start, a "presence" connection marks each process that uses a
// cluster it did not start (the starter leaves the cluster running while there are any, and
// says so in a marker file: the last of them to leave then stops it), and the postmaster.pid of
// a data folder tells whether a postmaster still owns it.
import { open, readFile, readlink, realpath, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';

/** Where a running embedded cluster listens, and its superuser's password (the info file). */
export interface ClusterInfo {
  port: number;
  password: string;
}

/** The superuser trueup creates in an embedded cluster. */
export const CLUSTER_USER = 'trueup';

/** A connection that marks this process as a user of a cluster it did not start. */
const PRESENCE = 'trueup-presence';

function clientFor(info: ClusterInfo, applicationName: string): pg.Client {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: info.port,
    user: CLUSTER_USER,
    password: info.password,
    database: 'postgres',
    connectionTimeoutMillis: 2000,
    application_name: applicationName,
  });
  client.on('error', () => {});
  return client;
}

/** This process's presence connection on a cluster it did not start, and its backend's pid. */
export interface Presence {
  client: pg.Client;
  pid: number;
}

/**
 * Connects to a running cluster and keeps the connection open while this process uses the
 * cluster: the process that started the cluster sees it and leaves the cluster running.
 */
export async function connectPresence(info: ClusterInfo): Promise<Presence | undefined> {
  const client = clientFor(info, PRESENCE);
  try {
    await client.connect();
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return { client, pid: rows[0]!.pid };
  } catch {
    await client.end().catch(() => {});
    return undefined;
  }
}

/**
 * Presence connections on the cluster, but `exceptPid`'s (this process's own). A cluster that
 * cannot be asked counts as used: leaving it running is the safe mistake.
 */
export async function otherTrueupSessions(info: ClusterInfo, exceptPid = 0): Promise<number> {
  const client = clientFor(info, 'trueup');
  try {
    await client.connect();
    const { rows } = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND pid <> $2',
      [PRESENCE, exceptPid],
    );
    return rows[0]?.n ?? 0;
  } catch {
    return exceptPid ? 1 : 0;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Stops the folder's postmaster through a signal (fast shutdown: sessions are ended, the cluster
 * is shut down cleanly), for a process that did not start it and so has no handle on it. Waits
 * up to a minute for it to exit; false when it could not be signalled or did not exit.
 */
export async function stopPostmaster(dataDir: string): Promise<boolean> {
  const running = await runningPostmaster(dataDir);
  if (!running) return true;
  try {
    process.kill(running.pid, 'SIGINT');
  } catch {
    return false;
  }
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (!(await runningPostmaster(dataDir))) return true;
    await sleep(100);
  }
  return false;
}

/** The postmaster that owns `dataDir` according to its postmaster.pid, if that process lives. */
export async function runningPostmaster(
  dataDir: string,
): Promise<{ pid: number; port: number | undefined; status: string } | undefined> {
  let lines: string[];
  try {
    lines = (await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !processExists(pid)) return undefined;
  if (!(await isPostmasterOf(pid, dataDir))) return undefined;
  const port = Number(lines[3]);
  return {
    pid,
    port: Number.isInteger(port) && port > 0 ? port : undefined,
    status: (lines[7] ?? '').trim(),
  };
}

/** Waits (up to a minute) for the folder's postmaster to accept connections, or to go away. */
export async function waitForPostmaster(
  dataDir: string,
  password: string,
): Promise<{ info: ClusterInfo; presence: Presence } | undefined> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const running = await runningPostmaster(dataDir);
    if (!running) return undefined;
    if (running.port && running.status === 'ready') {
      const info = { port: running.port, password };
      const presence = await connectPresence(info);
      if (presence) return { info, presence };
    }
    await sleep(200);
  }
  return undefined;
}

/**
 * Whether live process `pid` is a Postgres serving `dataDir` (its working folder). A postmaster
 * killed mid-start leaves its pid behind, and the pid may since belong to an unrelated process:
 * Postgres itself would then refuse to start ("lock file already exists"). Where /proc cannot
 * tell, the process is assumed to be the postmaster (the safe mistake).
 */
async function isPostmasterOf(pid: number, dataDir: string): Promise<boolean> {
  if (process.platform !== 'linux') return true;
  try {
    const comm = (await readFile(`/proc/${pid}/comm`, 'utf8')).trim();
    if (comm !== 'postgres' && comm !== 'postmaster') return false;
    const [cwd, dir] = await Promise.all([readlink(`/proc/${pid}/cwd`), realpath(dataDir)]);
    return cwd === dir;
  } catch {
    return true;
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Runs `fn` holding `lockFile` (created exclusively, holding this process's pid). A lock whose
 * holder died (a SIGKILLed trueup) is taken over; a live holder is waited for.
 */
export async function withStartLock<T>(lockFile: string, dataDir: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const fh = await open(lockFile, 'wx', 0o600);
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim());
    const age = Date.now() - ((await stat(lockFile).catch(() => undefined))?.mtimeMs ?? Date.now());
    const stale = holder > 0 ? !processExists(holder) : age > 5_000;
    if (stale) {
      await unlink(lockFile).catch(() => {});
      continue;
    }
    if (Date.now() > deadline)
      throw new Error(
        `another trueup process (pid ${holder}) has been starting the embedded Postgres in ${dataDir} for two minutes; ` +
          `if no such process runs, remove ${lockFile}`,
      );
    await sleep(100);
  }
  try {
    return await fn();
  } finally {
    await unlink(lockFile).catch(() => {});
  }
}

// Runs the embedded cluster's binaries: initdb for a new data folder and the postmaster. Every
// spawn has an 'error' listener and every failure becomes one sentence naming the folder or the
// binary. The postmaster runs in its own process group (a Ctrl-C in the terminal reaches trueup,
// which stops it after committing what it holds, not Postgres under open transactions) and logs to
// a file beside the data folder, so it can outlive this process when others still use it.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, open, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { binary, type PostgresBinaries, serverEnv } from './binaries.js';
import { runningPostmaster } from './embedded-sharing.js';
import { diskFull, EmbeddedPostgresError, fileStepError, isDiskFull } from './errors.js';

/** A postmaster this process started. */
export interface Postmaster {
  readonly pid: number;
  exited(): boolean;
  /** Fast shutdown (SIGINT), escalated to immediate (SIGQUIT) after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
  /** Lets it run on after this process ends (others still use it). */
  detach(): void;
  /** Sends a signal now, synchronously (from a process 'exit' listener); errors are ignored. */
  signal(sig: NodeJS.Signals): void;
}

/** The port was taken (by the time Postgres bound it): the caller may pick another. */
export class PortInUseError extends EmbeddedPostgresError {
  override name = 'PortInUseError';
}

/** What a failed spawn means, in one sentence. */
function spawnFailure(file: string, err: NodeJS.ErrnoException, bins: PostgresBinaries): Error {
  if (err.code === 'EACCES' || err.code === 'EPERM')
    return new EmbeddedPostgresError(
      `cannot run ${file} as ${bins.runAs ? 'the "postgres" user' : 'this user'} (${err.code}): ` +
        'make the folder readable and enterable for that user, or set TRUEUP_DATABASE_URL to use a Postgres server instead',
      err,
    );
  if (err.code === 'ENOENT')
    return new EmbeddedPostgresError(`${file} does not exist: reinstall with npm ci`, err);
  return new EmbeddedPostgresError(`cannot run ${file}: ${err.message}`, err);
}

/** The lines of a Postgres log worth showing: errors first, else the last few. */
function reason(lines: readonly string[]): string {
  const bad = lines.filter((l) => /FATAL|PANIC|ERROR|initdb: error/.test(l));
  return (bad.length ? bad : lines.slice(-3)).join(' ').replace(/\s+/g, ' ').trim();
}

/**
 * Creates the cluster in `dataDir` (absent or empty) with `user` as its superuser. The password
 * goes through a file beside the data folder, mode 0600, owned by the cluster's user, and removed
 * whatever happens.
 */
export async function initCluster(o: {
  bins: PostgresBinaries;
  dataDir: string;
  user: string;
  password: string;
  log: (line: string) => void;
}): Promise<void> {
  const parent = dirname(o.dataDir);
  const pwFile = join(parent, `.${basename(o.dataDir)}.pw-${randomBytes(6).toString('hex')}`);
  try {
    const fh = await open(pwFile, 'wx', 0o600);
    try {
      await fh.writeFile(`${o.password}\n`);
    } finally {
      await fh.close();
    }
    if (o.bins.runAs) await chown(pwFile, o.bins.runAs.uid, o.bins.runAs.gid);
  } catch (err) {
    await unlink(pwFile).catch(() => {});
    throw fileStepError(err, parent);
  }
  const initdb = binary(o.bins, 'initdb');
  try {
    const args = [
      `--pgdata=${o.dataDir}`,
      '--auth=scram-sha-256',
      `--username=${o.user}`,
      `--pwfile=${pwFile}`,
      '--lc-messages=C',
      '--encoding=UTF8',
      '--no-sync',
    ];
    const output: string[] = [];
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(initdb, args, {
        env: serverEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
        ...o.bins.runAs,
      });
      child.on('error', (err) => reject(spawnFailure(initdb, err, o.bins)));
      const collect = (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (!line.trim()) continue;
          output.push(line);
          o.log(line);
        }
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      child.on('close', (c) => resolve(c));
    });
    if (code !== 0) {
      if (isDiskFull(undefined, output)) throw diskFull(o.dataDir);
      throw new EmbeddedPostgresError(
        `initdb could not create the embedded Postgres cluster in ${o.dataDir}: ${reason(output) || `exit code ${code}`}`,
      );
    }
  } finally {
    await unlink(pwFile).catch(() => {});
  }
}

/**
 * Starts the postmaster and resolves once it accepts connections (its postmaster.pid says
 * "ready"); rejects with one sentence when it exits first or is not ready within `timeoutMs`.
 */
export async function startPostmaster(o: {
  bins: PostgresBinaries;
  dataDir: string;
  port: number;
  flags: string[];
  logFile: string;
  log: (line: string) => void;
  timeoutMs?: number;
}): Promise<Postmaster> {
  const postgres = binary(o.bins, 'postgres');
  let logFd: Awaited<ReturnType<typeof open>>;
  let offset = 0;
  try {
    // Keep the log bounded: start it afresh once it passes 10 MB.
    const size = (await stat(o.logFile).catch(() => undefined))?.size ?? 0;
    logFd = await open(o.logFile, size > 10 * 2 ** 20 ? 'w' : 'a', 0o600);
    offset = size > 10 * 2 ** 20 ? 0 : size;
  } catch (err) {
    throw fileStepError(err, dirname(o.logFile));
  }
  const child = spawn(postgres, ['-D', o.dataDir, '-p', String(o.port), ...o.flags], {
    env: serverEnv(),
    stdio: ['ignore', logFd.fd, logFd.fd],
    detached: true,
    ...o.bins.runAs,
  });
  await logFd.close();
  let spawnError: Error | undefined;
  let exitedAt: number | undefined;
  const exit = new Promise<void>((resolve) => {
    child.on('exit', () => {
      exitedAt = Date.now();
      resolve();
    });
    child.on('error', (err) => {
      spawnError = spawnFailure(postgres, err, o.bins);
      exitedAt ??= Date.now();
      resolve();
    });
  });
  child.unref();
  const readMore = async (): Promise<string[]> => {
    const fh = await open(o.logFile, 'r').catch(() => undefined);
    if (!fh) return [];
    try {
      const { size } = await fh.stat();
      if (size <= offset) return [];
      const buf = Buffer.alloc(size - offset);
      await fh.read(buf, 0, buf.length, offset);
      offset = size;
      const lines = buf
        .toString('utf8')
        .split('\n')
        .filter((l) => l.trim());
      for (const l of lines) o.log(l);
      return lines;
    } finally {
      await fh.close();
    }
  };
  // One reader at a time (the tail below, the start and the stop all read on).
  let reading: Promise<string[]> = Promise.resolve([]);
  const newLines = () => {
    reading = reading.then(readMore, readMore);
    return reading;
  };
  const deadline = Date.now() + (o.timeoutMs ?? 300_000);
  const seen: string[] = [];
  for (;;) {
    if (spawnError) throw spawnError;
    if (exitedAt !== undefined) {
      seen.push(...(await newLines()));
      if (spawnError) throw spawnError;
      if (isDiskFull(undefined, seen)) throw diskFull(o.dataDir);
      const why = reason(seen);
      if (/could not bind|Address already in use/i.test(why))
        throw new PortInUseError(
          `port ${o.port} on 127.0.0.1 is in use by another program: stop it, or set staging.embedded.port to a free port (or leave it unset to pick one)`,
        );
      throw new EmbeddedPostgresError(
        `the embedded Postgres in ${o.dataDir} stopped while starting: ${why || 'no reason logged'} (log: ${o.logFile})`,
      );
    }
    const running = await runningPostmaster(o.dataDir);
    if (running && running.pid === child.pid && running.status === 'ready') break;
    if (Date.now() > deadline) {
      child.kill('SIGQUIT');
      throw new EmbeddedPostgresError(
        `the embedded Postgres in ${o.dataDir} did not become ready within ${Math.round((o.timeoutMs ?? 300_000) / 1000)} s: see ${o.logFile}`,
      );
    }
    seen.push(...(await newLines()));
    if (seen.length > 200) seen.splice(0, seen.length - 200);
    await new Promise((r) => setTimeout(r, 50));
  }
  await newLines();
  // While it runs, its log reaches trueup's (the debug log): read on every 100 ms.
  const tail = setInterval(() => void newLines().catch(() => []), 100);
  tail.unref();
  void exit.then(() => clearInterval(tail));
  return {
    pid: child.pid!,
    exited: () => exitedAt !== undefined,
    async stop(timeoutMs = 60_000) {
      if (exitedAt !== undefined) return;
      child.ref(); // the stop must keep this process alive until the postmaster is gone
      const bounded = async (ms: number) => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<boolean>((r) => {
          timer = setTimeout(() => r(false), ms);
        });
        try {
          return await Promise.race([exit.then(() => true), late]);
        } finally {
          clearTimeout(timer);
        }
      };
      try {
        child.kill('SIGINT');
        if (await bounded(timeoutMs)) return;
        o.log(`the embedded Postgres did not stop within ${timeoutMs / 1000} s: immediate shutdown`);
        child.kill('SIGQUIT');
        await bounded(10_000);
      } finally {
        child.unref();
        clearInterval(tail);
        await newLines();
      }
    },
    detach() {
      clearInterval(tail);
      child.unref();
    },
    signal(sig) {
      try {
        child.kill(sig);
      } catch {
        // already gone
      }
    },
  };
}

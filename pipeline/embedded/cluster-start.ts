// Bringing one embedded cluster up in its data folder, with a clear sentence for each way a first
// run trips: a folder from another Postgres major, an initdb that was interrupted, a folder that
// holds something else, a port in use, a full disk, a postmaster.pid left by a killed cluster.
// Runs under the start lock (embedded-sharing.ts); postgres-server.ts decides when to call it.
import { existsSync } from 'node:fs';
import { chown, mkdir, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { basename, dirname, join } from 'node:path';
import type { PostgresBinaries } from './binaries.js';
import { runningPostmaster } from './embedded-sharing.js';
import { EmbeddedPostgresError, fileStepError } from './errors.js';
import { initCluster, PortInUseError, type Postmaster, startPostmaster } from './postgres-process.js';

export interface StartRequest {
  bins: PostgresBinaries;
  dataDir: string;
  user: string;
  password: string;
  /** Fixed port (config), or undefined to pick a free one. */
  port: number | undefined;
  flags: string[];
  log: (line: string) => void;
}

/** Files kept beside the data folder `<parent>/<name>`. */
export function sideFile(dataDir: string, suffix: string): string {
  return join(dirname(dataDir), `${basename(dataDir)}.trueup.${suffix}`);
}

/** Initialises the folder if it holds no cluster yet, then starts the postmaster. */
export async function bringUp(r: StartRequest): Promise<{ postmaster: Postmaster; port: number }> {
  await prepareDataDir(r);
  // Postgres removes a postmaster.pid whose process is gone, but refuses one whose pid now
  // belongs to another process (pid reuse after a kill mid-start). runningPostmaster() found no
  // postmaster of this folder, so the file is stale.
  if (!(await runningPostmaster(r.dataDir))) await unlink(join(r.dataDir, 'postmaster.pid')).catch(() => {});
  const logFile = sideFile(r.dataDir, 'log');
  for (let attempt = 1; ; attempt++) {
    const port = r.port ?? (await freePort());
    if (r.port !== undefined && !(await portFree(port)))
      throw new PortInUseError(
        `port ${port} on 127.0.0.1 is in use by another program: stop it, or set staging.embedded.port to a free port (or leave it unset to pick one)`,
      );
    try {
      const postmaster = await startPostmaster({ ...r, port, logFile });
      return { postmaster, port };
    } catch (err) {
      // A free port taken between the check and Postgres's bind: pick another.
      if (err instanceof PortInUseError && r.port === undefined && attempt < 3) continue;
      throw err;
    }
  }
}

async function prepareDataDir(r: StartRequest): Promise<void> {
  const marker = sideFile(r.dataDir, 'initdb');
  // An initdb that did not finish (killed, disk full) leaves a half-made folder; the marker says
  // it was ours and holds no data, so it is made again.
  if (existsSync(marker)) {
    r.log(`removing ${r.dataDir}: its initdb did not finish`);
    await rm(r.dataDir, { recursive: true, force: true }).catch((err) => {
      throw fileStepError(err, r.dataDir);
    });
  }
  const version = await readFile(join(r.dataDir, 'PG_VERSION'), 'utf8').catch(() => undefined);
  if (version !== undefined) {
    checkMajor(r.dataDir, version.trim(), r.bins.major);
    return;
  }
  const entries = await readdir(r.dataDir).catch(() => [] as string[]);
  if (entries.length)
    throw new EmbeddedPostgresError(
      `${r.dataDir} is not empty but holds no Postgres cluster: point TRUEUP_HOME (or staging.embedded.dataDir) at a new folder, or empty it`,
    );
  try {
    await writeFile(marker, String(process.pid), { mode: 0o600 });
    await mkdir(r.dataDir, { recursive: true, mode: 0o700 });
    if (r.bins.runAs) await chown(r.dataDir, r.bins.runAs.uid, r.bins.runAs.gid);
  } catch (err) {
    throw fileStepError(err, dirname(r.dataDir));
  }
  await initCluster({ ...r });
  await unlink(marker);
}

function checkMajor(dataDir: string, found: string, major: number): void {
  const theirs = Number(found.split('.')[0]);
  if (theirs === major) return;
  if (!Number.isFinite(theirs) || theirs <= 0)
    throw new EmbeddedPostgresError(
      `${dataDir}/PG_VERSION says "${found}", which is no Postgres version: the folder is damaged; move it away to start afresh`,
    );
  if (theirs > major)
    throw new EmbeddedPostgresError(
      `${dataDir} was created by Postgres ${theirs}, newer than trueup's embedded Postgres ${major}: ` +
        `use a trueup release with Postgres ${theirs}, or set TRUEUP_HOME (or staging.embedded.dataDir) to another folder`,
    );
  throw new EmbeddedPostgresError(
    `${dataDir} was created by Postgres ${theirs} and trueup's embedded Postgres is ${major}: ` +
      `upgrade it (pg_upgrade, or pg_dump and restore), or set TRUEUP_HOME (or staging.embedded.dataDir) to another folder`,
  );
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.unref();
    server.on('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => res(port));
    });
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const server = createServer();
    server.unref();
    server.on('error', () => res(false));
    server.listen(port, '127.0.0.1', () => server.close(() => res(true)));
  });
}

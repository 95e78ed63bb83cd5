// Files and folders of a reconcile hold tenant data (mirrors, scratch CSVs, run folders): folders
// are made 0700 and files 0600 whatever the process umask (bin.ts sets 077, but a program that
// embeds trueup keeps its own). Files DuckDB creates itself (the mirror, its WAL, COPY TO output)
// follow the umask, so they are narrowed after the fact.
import { createWriteStream, type WriteStream } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

/** Makes `dir` (and missing parents, 0700) and sets `dir` itself to 0700. */
export async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  await chmod(dir, DIR_MODE);
}

/** A write stream on a new (or truncated) file, created 0600. */
export function privateWriteStream(file: string): WriteStream {
  return createWriteStream(file, { flags: 'w', mode: FILE_MODE });
}

/** Writes a whole file with mode 0600 (also when it existed with a wider mode). */
export async function writePrivateFile(file: string, data: string): Promise<void> {
  await writeFile(file, data, { mode: FILE_MODE });
  await chmod(file, FILE_MODE);
}

/** Narrows files another program created (DuckDB's) to 0600; a file that is not there is skipped. */
export async function narrowFiles(...files: string[]): Promise<void> {
  await Promise.all(
    files.map((f) =>
      chmod(f, FILE_MODE).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      }),
    ),
  );
}

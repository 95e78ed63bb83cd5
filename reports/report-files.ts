// Where report files go and how they are written. Reports hold tenant data: folders are made
// 0700 and files 0600 whatever the umask, and every file is written under a temporary name and
// renamed into place, so a reader (or a browser refreshing the page) never sees half a report and
// a rebuild replaces the old file in one step.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

/** Makes `dir` (and missing parents) and sets `dir` itself to 0700. */
export async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  await chmod(dir, DIR_MODE);
}

/** A temporary name beside `file`, in the same folder so the final rename is atomic. */
export function tempPathFor(file: string): string {
  return join(dirname(file), `.${basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Writes a file through `fill`, which receives a temporary path (already created, mode 0600)
 * and must write it completely; then renames it over `file`. A failure removes the temporary file.
 */
export async function writePrivateFile(
  file: string,
  fill: (tempPath: string) => Promise<void>,
): Promise<void> {
  const temp = tempPathFor(file);
  const handle = await open(temp, 'wx', FILE_MODE);
  await handle.close();
  try {
    await fill(temp);
    // A writer that replaced the file (DuckDB's COPY does) may have created it with the umask's mode.
    await chmod(temp, FILE_MODE);
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** Writes text (UTF-8) as a private file. */
export async function writePrivateText(file: string, text: string): Promise<void> {
  await writePrivateFile(file, async (temp) => {
    const handle = await open(temp, 'w', FILE_MODE);
    try {
      await handle.writeFile(text, 'utf8');
    } finally {
      await handle.close();
    }
  });
}

// The one error of the embedded Postgres: a sentence naming the folder or binary at fault and the
// fix. Helpers turn the errno codes and Postgres log lines of the usual failures (disk full, no
// access, port in use) into such sentences.
import { TrueupError } from '../../staging/model/errors.js';

export class EmbeddedPostgresError extends TrueupError {
  override name = 'EmbeddedPostgresError';
  constructor(message: string, cause?: unknown) {
    super(message, { kind: 'terminal', ...(cause === undefined ? {} : { cause }) });
  }
}

const MOVE_HINT = 'or set TRUEUP_HOME (or staging.embedded.dataDir) to a folder on another disk';

/** A full disk named as such, whatever reported it (errno of our own write, or a Postgres log line). */
export function diskFull(folder: string): EmbeddedPostgresError {
  return new EmbeddedPostgresError(
    `the disk holding ${folder} is full (no space left on device): free space there, ${MOVE_HINT}`,
  );
}

export function isDiskFull(err: unknown, lines: readonly string[] = []): boolean {
  if ((err as NodeJS.ErrnoException | undefined)?.code === 'ENOSPC') return true;
  const text = `${err instanceof Error ? err.message : ''}\n${lines.join('\n')}`;
  return /No space left on device|could not extend file|ENOSPC/i.test(text);
}

/**
 * One sentence for a failed file-system step of the start (mkdir, copy, info file): a full disk,
 * a folder trueup may not write, or the system's own message with the path.
 */
export function fileStepError(err: unknown, folder: string): Error {
  if (err instanceof EmbeddedPostgresError) return err;
  if (isDiskFull(err)) return diskFull(folder);
  const e = err as NodeJS.ErrnoException;
  const where = e.path ?? folder;
  if (e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS')
    return new EmbeddedPostgresError(
      `trueup cannot write to ${where} (${e.code}) for the embedded Postgres: give this user write access there, ${MOVE_HINT.replace('on another disk', 'it may write')}`,
      err,
    );
  return new EmbeddedPostgresError(`embedded Postgres: ${e.message ?? String(err)} (folder ${where})`, err);
}

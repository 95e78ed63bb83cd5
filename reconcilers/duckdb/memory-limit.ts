// DuckDB's memory_limit for one reconcile job. DuckDB defaults to 80% of the machine's RAM per
// instance, and a reconcile pool runs one instance per worker thread: two jobs at once could ask
// for 160%. Each job gets a share instead — configured (`reconcile.memoryLimit`), or by default
// half of the memory this process may use (the cgroup limit when there is one) split across the
// pool's worker threads. Beyond it DuckDB spills to its temp folder beside the mirror.
import { totalmem } from 'node:os';

/** A DuckDB size: a number and a unit (KB, MB, GB, TB or KiB, MiB, GiB, TiB). */
export const MEMORY_LIMIT_PATTERN = /^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i;

/** Share of the usable memory all the pool's jobs together get by default. */
const DEFAULT_SHARE = 0.5;
/** Below this DuckDB cannot do much of anything; a tiny machine still gets it. */
const FLOOR_MIB = 256;

/** The default limit of one job when `threads` jobs run at once, as a DuckDB size ("1536MiB"). */
export function defaultMemoryLimit(threads: number, usable = usableMemory()): string {
  const mib = Math.floor((usable * DEFAULT_SHARE) / Math.max(1, threads) / 2 ** 20);
  return `${Math.max(FLOOR_MIB, mib)}MiB`;
}

/** The configured limit (validated) or the default share. */
export function jobMemoryLimit(configured: string | undefined, threads: number): string {
  if (configured === undefined) return defaultMemoryLimit(threads);
  const text = configured.trim();
  if (!MEMORY_LIMIT_PATTERN.test(text))
    throw new Error(
      `reconcile.memoryLimit "${configured}" is not a size such as "2GB" or "1536MiB" (a number and KB, MB, GB, TB, KiB, MiB, GiB or TiB)`,
    );
  return text.replace(/\s+/g, '');
}

function usableMemory(): number {
  const total = totalmem();
  // constrainedMemory: the cgroup's limit, or 0 / a huge number when there is none.
  const limit = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.() ?? 0;
  return limit > 0 && limit < total ? limit : total;
}

// Waiting on a condition instead of a fixed sleep: a busy machine makes the wait longer, never
// the test wrong. The deadline only turns a condition that never comes into a clear failure.

/** Waits until `check` holds, polling every `everyMs`; fails naming `what` after `ms`. */
export async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  ms = 30_000,
  everyMs = 50,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Waits until `read()` has stopped changing: the same value `polls` times in a row, `everyMs`
 * apart. For "it stops by itself" (bounded read-ahead); returns the settled value.
 */
export async function settled<T>(
  what: string,
  read: () => T,
  polls = 5,
  everyMs = 50,
  ms = 30_000,
): Promise<T> {
  let last = read();
  let same = 0;
  await until(
    what,
    () => {
      const now = read();
      same = Object.is(now, last) ? same + 1 : 0;
      last = now;
      return same >= polls;
    },
    ms,
    everyMs,
  );
  return last;
}

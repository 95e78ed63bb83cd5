// Timers that fire when the test says so, for code with a timers seam (ApiClient's `timers`,
// the reconcile pool's `timers`): a timeout then happens on the test's condition, never because
// a busy machine was slow, and a run that should not time out cannot.
export interface ManualTimer {
  readonly ms: number;
  readonly fn: () => void;
}

export class ManualTimers {
  private readonly pending = new Set<ManualTimer>();
  /** Every timer ever set, by duration: what the code under test asked for. */
  readonly created: number[] = [];

  setTimeout(fn: () => void, ms: number): unknown {
    const timer: ManualTimer = { fn, ms };
    this.pending.add(timer);
    this.created.push(ms);
    return timer;
  }

  clearTimeout(timer: unknown): void {
    this.pending.delete(timer as ManualTimer);
  }

  /** Pending timers (of `ms`, when given). */
  count(ms?: number): number {
    return [...this.pending].filter((t) => ms === undefined || t.ms === ms).length;
  }

  /** Fires every pending timer (of `ms`, when given) as if its time had come; returns how many. */
  fire(ms?: number): number {
    const due = [...this.pending].filter((t) => ms === undefined || t.ms === ms);
    for (const t of due) {
      this.pending.delete(t);
      t.fn();
    }
    return due.length;
  }
}

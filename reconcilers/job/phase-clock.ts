// Wall-clock time per phase of one reconcile job (refresh, scope, match, compare, write, …), for
// summary.json, the benchmark and anyone asking where a run's time went. `mark(name)` charges the
// time since the previous mark to `name`; marks of the same name add up.
import { performance } from 'node:perf_hooks';

export class PhaseClock {
  readonly phases: Record<string, number> = {};
  private readonly start = performance.now();
  private last = this.start;

  /** Charges the time since the previous mark (or the start) to `name`; returns it in ms. */
  mark(name: string): number {
    const now = performance.now();
    const ms = now - this.last;
    this.last = now;
    this.phases[name] = Math.round(((this.phases[name] ?? 0) + ms) * 10) / 10;
    return ms;
  }

  total(): number {
    return Math.round(performance.now() - this.start);
  }
}

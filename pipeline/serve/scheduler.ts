// Fires each tenant's scheduled reconciliation at its fire instants (cron-schedule.ts), on a
// clock passed in: the system clock in `serve`, a manual one in tests. Every serve process runs
// the same scheduler over the same config; a fire only *enqueues* a job whose id is derived from
// (tenant, fire instant), so however many processes fire, the queue holds one job (job-queue.ts).
//
// A fire found late (a blocked event loop, a process that started just after the instant) still
// fires within `graceMs` (at least a second, for timer jitter); older fire instants are reported
// as missed and skipped, as cron does.
import { CronSchedule } from './cron-schedule.js';

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Timers wake a little late: a fire this late is on time whatever the grace (node-cron's tolerance too). */
const ON_TIME_MS = 1_000;

/** setTimeout takes at most 2^31 - 1 ms; a longer wait is re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ScheduleEntry {
  tenant: string;
  expression: string;
  timeZone: string;
}

export interface Fire {
  tenant: string;
  /** The fire instant (epoch ms): with the tenant, it identifies the run across processes. */
  at: number;
  /** How late the fire is handled (ms). */
  lateMs: number;
}

export interface SchedulerOptions {
  clock?: Clock;
  graceMs: number;
  onFire: (fire: Fire) => void | Promise<void>;
  onMissed?: (fire: Fire) => void;
  onError?: (err: unknown, fire: Fire) => void;
}

interface Armed {
  entry: ScheduleEntry;
  schedule: CronSchedule;
  next: number;
  timer?: unknown;
}

export class Scheduler {
  private readonly clock: Clock;
  private readonly armed = new Map<string, Armed>();
  private stopped = false;

  constructor(
    entries: readonly ScheduleEntry[],
    private readonly opts: SchedulerOptions,
  ) {
    this.clock = opts.clock ?? systemClock;
    for (const entry of entries) {
      const schedule = new CronSchedule(entry.expression, entry.timeZone);
      this.armed.set(entry.tenant, { entry, schedule, next: Number.NaN });
    }
  }

  /** Arms every tenant; a fire instant up to `graceMs` ago still fires now. */
  start(): void {
    const now = this.clock.now();
    for (const a of this.armed.values()) {
      a.next = a.schedule.next(now - this.opts.graceMs - 1);
      this.arm(a);
    }
  }

  /** The next fire instant of each tenant (for logs and the status endpoint). */
  upcoming(): { tenant: string; at: number }[] {
    return [...this.armed.values()].map((a) => ({ tenant: a.entry.tenant, at: a.next }));
  }

  stop(): void {
    this.stopped = true;
    for (const a of this.armed.values()) {
      if (a.timer !== undefined) this.clock.clearTimeout(a.timer);
      a.schedule.dispose();
    }
  }

  private arm(a: Armed): void {
    if (this.stopped) return;
    const wait = Math.min(MAX_TIMER_MS, Math.max(0, a.next - this.clock.now()));
    a.timer = this.clock.setTimeout(() => this.wake(a), wait);
  }

  private wake(a: Armed): void {
    a.timer = undefined;
    if (this.stopped) return;
    const now = this.clock.now();
    // A timer may wake early (a clock set back, a long wait cut at MAX_TIMER_MS): re-arm.
    while (a.next <= now) {
      const fire = { tenant: a.entry.tenant, at: a.next, lateMs: now - a.next };
      if (fire.lateMs <= Math.max(ON_TIME_MS, this.opts.graceMs)) {
        Promise.resolve()
          .then(() => this.opts.onFire(fire))
          .catch((err) => this.opts.onError?.(err, fire));
      } else this.opts.onMissed?.(fire);
      a.next = a.schedule.next(a.next);
    }
    this.arm(a);
  }
}

// When a tenant's cron `schedule` fires, in the tenant's `timezone`, as a pure function of a
// given instant (so tests pass the time in). node-cron parses the expression and matches wall-clock
// times (its own matcher, L/W/# included); the step from wall-clock time to an instant is ours,
// over Intl, because node-cron's own scheduler neither takes an injected clock nor runs a time
// that a spring-forward night skips (its docs: "a daily time that lands in the gap is skipped for
// that day"). The rules here are cron's (Vixie) and what a nightly reconciliation needs:
//   - a wall time that exists once fires at that instant;
//   - a wall time in a spring-forward gap (02:30 when 02:00 → 03:00) fires once, at the end of
//     the gap (03:00 local); several gap times of one night are that one run;
//   - a wall time that exists twice (fall-back) fires once, at its first occurrence; a sub-hourly
//     schedule therefore pauses for the repeated hour, as in node-cron.
import cron, { type ScheduledTask } from 'node-cron';

const DAY_MS = 86_400_000;
/** Longest search for a matching day (a Feb 29 that is a Monday recurs within 28 years). */
const MAX_DAYS = 366 * 30;

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall-clock time of `instant` in `timeZone`, written as the epoch ms of that wall time in UTC. */
export function wallOf(instant: number, timeZone: string): number {
  const ms = ((instant % 1000) + 1000) % 1000;
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(instant - ms)))
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour! % 24, p.minute!, p.second!) + ms;
}

/**
 * The zone's UTC offset at `instant` (ms). Zones change offset only at whole quarter hours, so the
 * offset is cached per zone and quarter hour (Intl formatting is the slow part of a fire time).
 */
const QUARTER_MS = 900_000;
const offsets = new Map<string, Map<number, number>>();
function offsetAt(instant: number, timeZone: string): number {
  let zone = offsets.get(timeZone);
  if (!zone) {
    zone = new Map();
    offsets.set(timeZone, zone);
  }
  const quarter = Math.floor(instant / QUARTER_MS);
  let o = zone.get(quarter);
  if (o === undefined) {
    if (zone.size > 50_000) zone.clear();
    o = wallOf(quarter * QUARTER_MS, timeZone) - quarter * QUARTER_MS;
    zone.set(quarter, o);
  }
  return o;
}

/** Every instant whose wall-clock time in `timeZone` is `wall`: none in a gap, two in a fall-back. */
export function instantsOf(wall: number, timeZone: string): number[] {
  const candidates = new Set([
    offsetAt(wall - DAY_MS, timeZone),
    offsetAt(wall, timeZone),
    offsetAt(wall + DAY_MS, timeZone),
  ]);
  const found = new Set<number>();
  for (const o of candidates) if (wall - o + offsetAt(wall - o, timeZone) === wall) found.add(wall - o);
  return [...found].sort((a, b) => a - b);
}

/**
 * The instant a wall time fires at: its only or first occurrence, or — when the clock skips it —
 * the end of the gap (the instant the clock jumps, where local time reads past it).
 */
export function fireInstant(wall: number, timeZone: string): number {
  const at = instantsOf(wall, timeZone);
  if (at.length) return at[0]!;
  const before = offsetAt(wall - DAY_MS, timeZone);
  const after = offsetAt(wall + DAY_MS, timeZone);
  // In the gap local time jumps forward, so "reads past `wall`" turns true once, at the jump.
  let lo = wall - Math.max(before, after);
  let hi = wall - Math.min(before, after);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (mid + offsetAt(mid, timeZone) > wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** A cron expression in a time zone: its fire instants, one after another. */
export class CronSchedule {
  private readonly seconds: number[];
  private readonly minutes: number[];
  private readonly hours: number[];
  /** node-cron's matcher in UTC: it then matches wall-clock times written as UTC (see wallOf). */
  private readonly matcher: ScheduledTask;
  /** Whether a day (its UTC midnight, in wall time) matches: node-cron's matcher is the slow part. */
  private readonly days = new Map<number, boolean>();

  constructor(
    readonly expression: string,
    readonly timeZone: string,
  ) {
    formatter(timeZone); // an unknown zone fails here, not at the first fire
    const fields = cron.parse(expression);
    const asc = (xs: number[]) => [...xs].sort((a, b) => a - b);
    this.seconds = asc(fields.second);
    this.minutes = asc(fields.minute);
    this.hours = asc(fields.hour);
    this.matcher = cron.createTask(expression, () => {}, { timezone: 'UTC', name: `match ${expression}` });
  }

  /** The first fire instant strictly after `after` (epoch ms). */
  next(after: number): number {
    const tz = this.timeZone;
    // Without a clock change nearby, wall time and instants move together and the scan can start
    // at `after`'s wall time; near one, it starts that much earlier (a fall-back repeats wall times).
    const offset = offsetAt(after, tz);
    const shift = Math.abs(offsetAt(after + DAY_MS, tz) - offsetAt(after - DAY_MS, tz));
    const wallAfter = after + offset;
    const from = Math.floor((wallAfter - shift) / 1000) * 1000 - (shift ? 1000 : 0);
    // Within a day of `after` and no clock change around it, a wall time is one instant away.
    const instant = (wall: number) =>
      shift === 0 && Math.abs(wall - wallAfter) < DAY_MS ? wall - offset : fireInstant(wall, tz);
    let day = Math.floor(from / DAY_MS) * DAY_MS;
    for (let i = 0; i < MAX_DAYS; i++, day += DAY_MS) {
      if (!this.dayMatches(day)) continue;
      for (const h of this.hours)
        for (const m of this.minutes)
          for (const s of this.seconds) {
            const wall = day + ((h * 60 + m) * 60 + s) * 1000;
            if (wall < from) continue;
            const at = instant(wall);
            if (at > after) return at;
          }
    }
    throw new Error(`the schedule "${this.expression}" never fires in the next ${MAX_DAYS / 366} years`);
  }

  /** The fire instants in (after, until], in order. */
  between(after: number, until: number): number[] {
    const out: number[] = [];
    for (let t = this.next(after); t <= until; t = this.next(t)) out.push(t);
    return out;
  }

  /** Frees node-cron's registry entry of the matcher. */
  dispose(): void {
    void this.matcher.destroy();
  }

  private dayMatches(day: number): boolean {
    let m = this.days.get(day);
    if (m === undefined) {
      if (this.days.size > 4_096) this.days.clear();
      const first = day + ((this.hours[0]! * 60 + this.minutes[0]!) * 60 + this.seconds[0]!) * 1000;
      m = this.matcher.match(new Date(first));
      this.days.set(day, m);
    }
    return m;
  }
}

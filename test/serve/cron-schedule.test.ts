// The scheduler fires at the tenant's local time, DST included, on a clock the test drives:
// fire instants of cron expressions in several zones (a spring-forward gap fires once at its end,
// a fall-back hour once at its first occurrence), and the Scheduler's timers on a manual clock.
import { describe, expect, it } from 'vitest';
import { CronSchedule, fireInstant, instantsOf, wallOf } from '../../pipeline/serve/cron-schedule.js';
import { type Clock, type Fire, Scheduler } from '../../pipeline/serve/scheduler.js';

const utc = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

function fires(expr: string, tz: string, fromIso: string, n: number): string[] {
  const s = new CronSchedule(expr, tz);
  const out: string[] = [];
  let t = utc(fromIso);
  for (let i = 0; i < n; i++) {
    t = s.next(t);
    out.push(iso(t));
  }
  s.dispose();
  return out;
}

describe('wall clock over Intl', () => {
  it('maps instants to wall time and back, with gaps and repeats', () => {
    expect(iso(wallOf(utc('2026-01-15T12:00:00Z'), 'Europe/Berlin'))).toBe('2026-01-15T13:00:00.000Z');
    // 02:30 on 2026-03-29 does not exist in Berlin (02:00 → 03:00).
    expect(instantsOf(utc('2026-03-29T02:30:00Z'), 'Europe/Berlin')).toEqual([]);
    expect(iso(fireInstant(utc('2026-03-29T02:30:00Z'), 'Europe/Berlin'))).toBe('2026-03-29T01:00:00.000Z');
    // 02:30 on 2026-10-25 exists twice (CEST, then CET).
    expect(instantsOf(utc('2026-10-25T02:30:00Z'), 'Europe/Berlin').map(iso)).toEqual([
      '2026-10-25T00:30:00.000Z',
      '2026-10-25T01:30:00.000Z',
    ]);
  });
});

describe('fire instants at the tenant local time', () => {
  it('fires a nightly 02:30 at 02:30 local, every day, in the tenant zone', () => {
    expect(fires('30 2 * * *', 'America/New_York', '2026-01-10T00:00:00Z', 2)).toEqual([
      '2026-01-10T07:30:00.000Z',
      '2026-01-11T07:30:00.000Z',
    ]);
    expect(fires('30 2 * * *', 'Asia/Kolkata', '2026-01-10T00:00:00Z', 1)).toEqual([
      '2026-01-10T21:00:00.000Z',
    ]);
    expect(fires('0 0 1 * *', 'UTC', '2026-01-10T00:00:00Z', 2)).toEqual([
      '2026-02-01T00:00:00.000Z',
      '2026-03-01T00:00:00.000Z',
    ]);
  });

  it('runs a 02:30 schedule once in a spring-forward night, at the end of the gap', () => {
    expect(fires('30 2 * * *', 'Europe/Berlin', '2026-03-27T12:00:00Z', 4)).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // no 02:30 that night: 03:00 CEST, once
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
      '2026-03-31T00:30:00.000Z',
    ]);
    expect(fires('30 2 * * *', 'America/New_York', '2026-03-07T12:00:00Z', 3)).toEqual([
      '2026-03-08T07:00:00.000Z', // 03:00 EDT
      '2026-03-09T06:30:00.000Z',
      '2026-03-10T06:30:00.000Z',
    ]);
  });

  it('runs a 02:30 schedule once in a fall-back night, at its first occurrence', () => {
    expect(fires('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', 3)).toEqual([
      '2026-10-25T00:30:00.000Z', // 02:30 CEST; not again at 02:30 CET
      '2026-10-26T01:30:00.000Z',
      '2026-10-27T01:30:00.000Z',
    ]);
    // Asked from inside the repeated hour (after its first 02:30), the next is the next night.
    expect(fires('30 2 * * *', 'Europe/Berlin', '2026-10-25T01:10:00Z', 1)).toEqual([
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  it('collapses several gap times into one run and keeps sub-hourly schedules going', () => {
    expect(fires('*/30 * * * *', 'Europe/Berlin', '2026-03-29T00:15:00Z', 4)).toEqual([
      '2026-03-29T00:30:00.000Z', // 01:30 CET
      '2026-03-29T01:00:00.000Z', // 02:00 and 02:30 do not exist: one run at 03:00 CEST
      '2026-03-29T01:30:00.000Z', // 03:30 CEST
      '2026-03-29T02:00:00.000Z',
    ]);
    // Fall-back: the repeated hour runs once (as node-cron documents for sub-hourly schedules).
    expect(fires('0 * * * *', 'Europe/Berlin', '2026-10-24T23:30:00Z', 4)).toEqual([
      '2026-10-25T00:00:00.000Z', // 02:00 CEST
      '2026-10-25T02:00:00.000Z', // 03:00 CET (02:00 CET is a repeat)
      '2026-10-25T03:00:00.000Z',
      '2026-10-25T04:00:00.000Z',
    ]);
  });

  it('takes what node-cron parses: seconds, names, L, nicknames', () => {
    expect(fires('*/20 * * * * *', 'UTC', '2026-01-01T00:00:05Z', 3)).toEqual([
      '2026-01-01T00:00:20.000Z',
      '2026-01-01T00:00:40.000Z',
      '2026-01-01T00:01:00.000Z',
    ]);
    expect(fires('0 18 L * *', 'Europe/Berlin', '2026-02-01T00:00:00Z', 2)).toEqual([
      '2026-02-28T17:00:00.000Z',
      '2026-03-31T16:00:00.000Z',
    ]);
    expect(fires('0 9 * * mon', 'Australia/Sydney', '2026-01-01T00:00:00Z', 1)).toEqual([
      '2026-01-04T22:00:00.000Z',
    ]);
  });

  it('never fires twice for one instant and always moves forward', () => {
    // The weeks of 2026's clock changes (Lord Howe moves by 30 minutes).
    const weeks: [string, string, string][] = [
      ['Europe/Berlin', '2026-03-26T00:00:00Z', '2026-04-02T00:00:00Z'],
      ['Europe/Berlin', '2026-10-22T00:00:00Z', '2026-10-29T00:00:00Z'],
      ['America/New_York', '2026-03-05T00:00:00Z', '2026-03-12T00:00:00Z'],
      ['America/New_York', '2026-10-29T00:00:00Z', '2026-11-05T00:00:00Z'],
      ['Australia/Lord_Howe', '2026-04-01T00:00:00Z', '2026-04-08T00:00:00Z'],
      ['Australia/Lord_Howe', '2026-10-01T00:00:00Z', '2026-10-08T00:00:00Z'],
    ];
    for (const [tz, from, to] of weeks) {
      const s = new CronSchedule('*/15 * * * *', tz);
      const all = s.between(utc(from), utc(to));
      s.dispose();
      for (let i = 1; i < all.length; i++) expect(all[i]!).toBeGreaterThan(all[i - 1]!);
      // A week of quarter hours, less the one gap or repeated hour (30 minutes at Lord Howe).
      expect(all.length).toBeGreaterThanOrEqual(7 * 96 - 4);
      expect(all.length).toBeLessThanOrEqual(7 * 96);
    }
  });
});

/** A clock the test moves: timers fire when `advance` passes their time. */
function manualClock(start: number): Clock & { advance(ms: number): void } {
  let now = start;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let nextId = 1;
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(h) {
      timers.delete(h as number);
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = [...timers.entries()]
          .filter(([, t]) => t.at <= until)
          .sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = Math.max(now, due[1].at);
        due[1].fn();
      }
      now = until;
    },
  };
}

describe('Scheduler on an injected clock', () => {
  it('fires each tenant at its own local time across a DST change, once per fire instant', async () => {
    const clock = manualClock(utc('2026-03-27T12:00:00Z'));
    const fired: Fire[] = [];
    const scheduler = new Scheduler(
      [
        { tenant: 'berlin', expression: '30 2 * * *', timeZone: 'Europe/Berlin' },
        { tenant: 'newyork', expression: '30 2 * * *', timeZone: 'America/New_York' },
      ],
      { clock, graceMs: 60_000, onFire: (f) => void fired.push(f) },
    );
    scheduler.start();
    clock.advance(4 * 86_400_000);
    await new Promise((r) => setImmediate(r));
    scheduler.stop();
    expect(fired.filter((f) => f.tenant === 'berlin').map((f) => iso(f.at))).toEqual([
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:30:00.000Z',
      '2026-03-31T00:30:00.000Z',
    ]);
    expect(fired.filter((f) => f.tenant === 'newyork').map((f) => iso(f.at))).toEqual([
      '2026-03-28T06:30:00.000Z',
      '2026-03-29T06:30:00.000Z',
      '2026-03-30T06:30:00.000Z',
      '2026-03-31T06:30:00.000Z',
    ]);
    expect(fired.every((f) => f.lateMs === 0)).toBe(true);
  });

  it('fires a run found late within the grace, reports older ones as missed', async () => {
    const clock = manualClock(utc('2026-01-10T02:31:00Z'));
    const fired: Fire[] = [];
    const missed: Fire[] = [];
    // Started one minute after 02:30: within a 5-minute grace it still runs.
    const late = new Scheduler([{ tenant: 't', expression: '30 2 * * *', timeZone: 'UTC' }], {
      clock,
      graceMs: 300_000,
      onFire: (f) => void fired.push(f),
    });
    late.start();
    clock.advance(0);
    await new Promise((r) => setImmediate(r));
    late.stop();
    expect(fired.map((f) => [iso(f.at), f.lateMs])).toEqual([['2026-01-10T02:30:00.000Z', 60_000]]);

    // A process whose timers were held up (event loop blocked) past the grace misses the fire.
    const blocked = manualClock(utc('2026-01-10T02:00:00Z'));
    const s = new Scheduler([{ tenant: 't', expression: '30 2 * * *', timeZone: 'UTC' }], {
      clock: {
        ...blocked,
        setTimeout: (fn, ms) => blocked.setTimeout(fn, ms + 600_000),
      },
      graceMs: 300_000,
      onFire: (f) => void fired.push(f),
      onMissed: (f) => void missed.push(f),
    });
    s.start();
    blocked.advance(3_600_000);
    s.stop();
    expect(missed.map((f) => iso(f.at))).toEqual(['2026-01-10T02:30:00.000Z']);
  });
});

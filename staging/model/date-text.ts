// Reading dates and timestamps as sources write them into canonical values, and the helpers
// connectors use for formats that need declaring (a CSV system's dateFormat, a system's time zone).
//
// Canonical forms:
//   date       `YYYY-MM-DD` (years 0001–9999, a day that exists)
//   timestamp  UTC, `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`, microseconds at most (Postgres' precision,
//              rounded half up as Postgres does), fraction without trailing zeros
// Timestamps without a zone are read as UTC here; a system whose naive timestamps are local
// time converts them first with naiveTimestampToUtc.

import type { ReadResult } from './decimal-text.js';
import { CanonicalValueError, showValue } from './value-error.js';

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** A day that exists, in years 0001–9999 (Postgres has no year 0; `2024-02-30` is rejected). */
export function isRealDay(y: number, m: number, d: number): boolean {
  if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  const leap = m === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= DAYS_IN_MONTH[m - 1]! + (leap ? 1 : 0);
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const ymd = (y: number, m: number, d: number) => `${pad(y, 4)}-${pad(m)}-${pad(d)}`;

/** Parts of an ISO 8601 date or timestamp: `YYYY-M-D`, then optionally a time and a zone. */
interface IsoParts {
  y: number;
  m: number;
  d: number;
  /** Absent for a bare date. */
  time?: { h: number; min: number; s: number; frac: string };
  /** Seconds east of UTC; absent when naive. */
  offset?: number;
}

// ISO 8601 as sources and Postgres print it: `T`, `t` or a space before the time; seconds and a
// fraction optional; a zone as Z, UTC, GMT or ±HH[[:]MM[[:]SS]], with or without a space.
const ISO =
  /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt ] ?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)? ?(?:([zZ]|UTC|GMT)|([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?)?$/;

function isoParts(text: string): IsoParts | null {
  const m = ISO.exec(text.trim());
  if (!m) return null;
  const parts: IsoParts = { y: Number(m[1]), m: Number(m[2]), d: Number(m[3]) };
  if (m[4] !== undefined)
    parts.time = { h: Number(m[4]), min: Number(m[5]), s: Number(m[6] ?? 0), frac: m[7] ?? '' };
  if (m[8] !== undefined) parts.offset = 0;
  else if (m[9] !== undefined) {
    const [h, min, s] = [Number(m[10]), Number(m[11] ?? 0), Number(m[12] ?? 0)];
    // Postgres' limit: ±15:59:59.
    if (h > 15 || min > 59 || s > 59) return null;
    parts.offset = (m[9] === '-' ? -1 : 1) * (h * 3600 + min * 60 + s);
  }
  return parts;
}

/**
 * A time Postgres reads: 00:00–23:59, seconds up to 60 (a leap second, rolled into the next
 * minute as Postgres does) and 24:00:00 exactly (the next midnight).
 */
function validTime(t: NonNullable<IsoParts['time']>): boolean {
  if (t.h === 24) return t.min === 0 && t.s === 0 && /^0*$/.test(t.frac);
  return t.h <= 23 && t.min <= 59 && t.s <= 60;
}

const DATE_EXPECTED = 'expected a date YYYY-MM-DD';

/**
 * A date field's value → `YYYY-MM-DD`. Accepted: `2024-01-31`, `2024-1-5`, `20240131` (SAP), and
 * a timestamp or a date with a zone (`2024-01-31T15:00:00+02:00`, `2024-01-31Z`,
 * `2024-01-31-08:00` as XML Schema writes it), of which the calendar date as written is kept — the
 * zone is not applied, as Postgres does when it reads such text as a date.
 */
export function readDate(text: string): ReadResult<string> {
  const s = text.trim();
  let parts = isoParts(s);
  if (!parts) {
    const compact = /^(\d{4})(\d{2})(\d{2})$/.exec(s);
    if (compact) parts = { y: Number(compact[1]), m: Number(compact[2]), d: Number(compact[3]) };
  }
  if (!parts) {
    const hint = /^[+-]?infinity$/i.test(s)
      ? '; Postgres "infinity" is not a calendar date'
      : /^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$/.test(s)
        ? '; other orders need the system dateFormat (parseDate)'
        : '';
    return { ok: false, reason: `${DATE_EXPECTED}${hint} (got ${showValue(text)})` };
  }
  if (!isRealDay(parts.y, parts.m, parts.d) || (parts.time && !validTime(parts.time)))
    return { ok: false, reason: 'not a real date' };
  return { ok: true, value: ymd(parts.y, parts.m, parts.d) };
}

/** A strict canonical date: `YYYY-MM-DD` of a day that exists. */
export function isRealDate(s: string): boolean {
  return (
    s.length === 10 &&
    /^\d{4}-\d{2}-\d{2}$/.test(s) &&
    isRealDay(Number(s.slice(0, 4)), Number(s.slice(5, 7)), Number(s.slice(8, 10)))
  );
}

const CANONICAL_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{0,5}[1-9])?Z$/;

/** Already the one canonical spelling of a timestamp (the write path's quick check). */
export function isCanonicalTimestamp(s: string): boolean {
  const m = CANONICAL_TIMESTAMP.exec(s);
  return (
    m !== null &&
    isRealDay(Number(m[1]), Number(m[2]), Number(m[3])) &&
    Number(m[4]) <= 23 &&
    Number(m[5]) <= 59 &&
    Number(m[6]) <= 59
  );
}

/** Seconds since the epoch and microseconds → canonical UTC text, or null outside years 1–9999. */
function formatUtc(seconds: number, micros: number): string | null {
  const days = Math.floor(seconds / 86400);
  const iso = new Date(days * 86_400_000).toISOString();
  // ±YYYYYY: outside years 0–9999; and Postgres has no year 0.
  if (iso.length !== 24 || iso.startsWith('0000')) return null;
  const rest = seconds - days * 86400;
  const frac = micros ? `.${pad(micros, 6).replace(/0+$/, '')}` : '';
  return `${iso.slice(0, 10)}T${pad(Math.floor(rest / 3600))}:${pad(Math.floor(rest / 60) % 60)}:${pad(rest % 60)}${frac}Z`;
}

/** Fraction digits → microseconds, rounded half up (Postgres rounds to microseconds too). */
function microsOf(frac: string): number {
  if (!frac) return 0;
  const micros = Number(frac.slice(0, 6).padEnd(6, '0'));
  return frac.length > 6 && frac.charCodeAt(6) >= 53 /* '5' */ ? micros + 1 : micros;
}

/** Local wall-clock parts read as if UTC: seconds since the epoch and microseconds. */
function wallSeconds(p: IsoParts): { seconds: number; micros: number } {
  const t = p.time ?? { h: 0, min: 0, s: 0, frac: '' };
  const micros = microsOf(t.frac);
  const seconds = daysFromCivil(p.y, p.m, p.d) * 86400 + t.h * 3600 + t.min * 60 + t.s;
  // 1_000_000 µs after rounding carries into the seconds.
  return micros === 1_000_000 ? { seconds: seconds + 1, micros: 0 } : { seconds, micros };
}

const TIMESTAMP_EXPECTED = 'expected an ISO 8601 timestamp with a real date and time';

function timestampParts(text: string): IsoParts | string {
  const p = isoParts(text);
  if (!p || !isRealDay(p.y, p.m, p.d) || (p.time && !validTime(p.time)))
    return `${TIMESTAMP_EXPECTED}${/^\s*\d{9,}\s*$/.test(text) ? '; epoch numbers need converting by the connector' : ''} (got ${showValue(text)})`;
  return p;
}

/**
 * A timestamp → canonical UTC text. Accepted: ISO 8601 with `T` or a space, optional seconds and
 * fraction, a zone as Z, UTC, GMT, ±HH, ±HHMM, ±HH:MM or ±HH:MM:SS (up to ±15:59:59), or none —
 * a naive timestamp is read as UTC (see naiveTimestampToUtc for sources on local time). A bare
 * date is its midnight.
 */
export function readTimestamp(text: string): ReadResult<string> {
  const p = timestampParts(text);
  if (typeof p === 'string') return { ok: false, reason: p };
  const { seconds, micros } = wallSeconds(p);
  const utc = formatUtc(seconds - (p.offset ?? 0), micros);
  return utc
    ? { ok: true, value: utc }
    : { ok: false, reason: `${TIMESTAMP_EXPECTED} in years 0001–9999 (got ${showValue(text)})` };
}

// ---- helpers for formats a system declares ----

/** The date formats a system can declare (`dateFormat`); day and month may have one digit. */
export const DATE_FORMATS = [
  'YYYY-MM-DD',
  'YYYYMMDD',
  'YYYY/MM/DD',
  'DD.MM.YYYY',
  'DD/MM/YYYY',
  'DD-MM-YYYY',
  'MM/DD/YYYY',
] as const;
export type DateFormat = (typeof DATE_FORMATS)[number];

const FORMAT_PATTERNS: Readonly<Record<DateFormat, { re: RegExp; y: number; m: number; d: number }>> = {
  'YYYY-MM-DD': { re: /^(\d{4})-(\d{1,2})-(\d{1,2})$/, y: 1, m: 2, d: 3 },
  YYYYMMDD: { re: /^(\d{4})(\d{2})(\d{2})$/, y: 1, m: 2, d: 3 },
  'YYYY/MM/DD': { re: /^(\d{4})\/(\d{1,2})\/(\d{1,2})$/, y: 1, m: 2, d: 3 },
  'DD.MM.YYYY': { re: /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/, y: 3, m: 2, d: 1 },
  'DD/MM/YYYY': { re: /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/, y: 3, m: 2, d: 1 },
  'DD-MM-YYYY': { re: /^(\d{1,2})-(\d{1,2})-(\d{4})$/, y: 3, m: 2, d: 1 },
  'MM/DD/YYYY': { re: /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/, y: 3, m: 1, d: 2 },
};

/**
 * A date in a declared format → `YYYY-MM-DD`: `parseDate('31.01.2024', 'DD.MM.YYYY')` →
 * `"2024-01-31"`. Years have four digits (a two-digit year is refused, never guessed). Throws
 * CanonicalValueError naming the value and the format.
 */
export function parseDate(text: string, format: DateFormat): string {
  const f = FORMAT_PATTERNS[format];
  if (!f)
    throw new RangeError(`unknown date format ${showValue(format)} (known: ${DATE_FORMATS.join(', ')})`);
  const m = f.re.exec(text.trim());
  const [y, mo, d] = m ? [Number(m[f.y]), Number(m[f.m]), Number(m[f.d])] : [0, 0, 0];
  if (!m || !isRealDay(y, mo, d))
    throw new CanonicalValueError(
      text,
      `${showValue(text)} is not ${m ? 'a real date' : 'a date'} in the format ${format}`,
    );
  return ymd(y, mo, d);
}

const zoneFormats = new Map<string, Intl.DateTimeFormat>();

function zoneFormat(timeZone: string): Intl.DateTimeFormat {
  let f = zoneFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    zoneFormats.set(timeZone, f);
  }
  return f;
}

/** The zone's offset from UTC (seconds east) at an instant (seconds since the epoch). */
function offsetAt(format: Intl.DateTimeFormat, seconds: number): number {
  const v: Record<string, number> = {};
  for (const part of format.formatToParts(new Date(seconds * 1000)))
    if (part.type !== 'literal') v[part.type] = Number(part.value);
  const wall = daysFromCivil(v.year!, v.month!, v.day!) * 86400 + v.hour! * 3600 + v.minute! * 60 + v.second!;
  return wall - seconds;
}

/**
 * A naive local timestamp, read in an IANA time zone → canonical UTC text:
 * `naiveTimestampToUtc('2024-07-01 12:00:00', 'Europe/Berlin')` → `"2024-07-01T10:00:00Z"`.
 * Daylight saving time, as Temporal's "compatible" disambiguation and Postgres do it:
 *   - a wall time that occurs twice (the fall-back hour) is the earlier instant, still on
 *     summer time: `2024-10-27 02:30` in Berlin → `2024-10-27T00:30:00Z`;
 *   - a wall time that does not exist (the skipped spring-forward hour) moves forward by the
 *     gap: `2024-03-31 02:30` in Berlin is read as 03:30 summer time → `2024-03-31T01:30:00Z`.
 * A text that carries its own zone (Z, ±HH:MM) keeps it; the declared zone applies to naive
 * text only. Throws CanonicalValueError for a text that is no timestamp, RangeError for an
 * unknown zone.
 */
export function naiveTimestampToUtc(text: string, timeZone: string): string {
  const p = timestampParts(text);
  if (typeof p === 'string') throw new CanonicalValueError(text, p);
  const { seconds: wall, micros } = wallSeconds(p);
  let instant: number;
  if (p.offset !== undefined) instant = wall - p.offset;
  else {
    let format: Intl.DateTimeFormat;
    try {
      format = zoneFormat(timeZone);
    } catch {
      throw new RangeError(
        `unknown time zone ${showValue(timeZone)}: expected an IANA zone such as "Europe/Berlin"`,
      );
    }
    // The offsets a day either side cover any single transition around the wall time.
    const before = offsetAt(format, wall - 86400);
    const after = offsetAt(format, wall + 86400);
    if (before === after) instant = wall - before;
    else {
      const fits = [before, after].map((o) => wall - o).filter((t) => wall - offsetAt(format, t) === t);
      // Two fits: the fall-back overlap, take the earlier. None: the spring-forward gap, read the
      // wall time with the offset before the transition, which lands after the gap.
      instant = fits.length ? Math.min(...fits) : wall - before;
    }
  }
  const utc = formatUtc(instant, micros);
  if (!utc)
    throw new CanonicalValueError(text, `${TIMESTAMP_EXPECTED} in years 0001–9999 (got ${showValue(text)})`);
  return utc;
}

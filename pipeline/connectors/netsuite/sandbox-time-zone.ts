// Wall-clock text in an IANA time zone, for the NetSuite sandbox: SuiteQL renders and parses
// date/time text in the integration user's time zone preference (WIRE.md), so a sandbox set to
// America/New_York shows a stamp five hours behind UTC in winter and four in summer.

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The zone's offset from UTC at instant `ms` (local wall time − UTC), in ms. */
export function zoneOffsetMs(ms: number, zone: string): number {
  if (zone === 'UTC') return 0;
  const parts = Object.fromEntries(
    formatter(zone)
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  );
  const wall = Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
  return wall - Math.floor(ms / 1000) * 1000;
}

/** 'YYYY-MM-DD HH:MM:SS' of instant `ms` on the wall clock of `zone`. */
export function wallText(ms: number, zone: string): string {
  return new Date(ms + zoneOffsetMs(ms, zone)).toISOString().slice(0, 19).replace('T', ' ');
}

/** The instant whose wall-clock text in `zone` is `text` ('YYYY-MM-DD[ HH:MM:SS]'); NaN if unreadable. */
export function wallInstant(text: string, zone: string): number {
  const t = text.trim();
  const asUtc = Date.parse(`${t.replace(' ', 'T')}${t.length > 10 ? 'Z' : 'T00:00:00Z'}`);
  if (Number.isNaN(asUtc)) return Number.NaN;
  // Two rounds settle the offset across a DST change (a skipped or repeated hour maps somewhere
  // sensible, as Oracle does).
  let ms = asUtc - zoneOffsetMs(asUtc, zone);
  ms = asUtc - zoneOffsetMs(ms, zone);
  return ms;
}

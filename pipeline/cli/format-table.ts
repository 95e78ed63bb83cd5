// Plain-text tables for terminal output (no colour codes, so they can be piped and diffed).

export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  if (!rows.length) return `${headers.join('  ')}\n(none)`;
  const widths = headers.map((h, i) =>
    Math.min(60, Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => {
        const w = widths[i] ?? 0;
        const text = c.length > w ? `${c.slice(0, w - 1)}…` : c;
        return text.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

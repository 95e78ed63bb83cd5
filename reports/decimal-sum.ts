// Exact sums of decimal strings (money impacts): bigints scaled to the larger number of fraction
// digits, never binary floats — finance reads these totals to the cent.

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

function parts(v: string): { sign: bigint; digits: string; frac: string } {
  const m = DECIMAL.exec(v.trim());
  if (!m) throw new RangeError(`not a decimal number: ${JSON.stringify(v)}`);
  return { sign: m[1] ? -1n : 1n, digits: m[2]!, frac: m[3] ?? '' };
}

/** a + b, both decimal strings; the result has no trailing fraction zeros beyond the inputs' own. */
export function addDecimal(a: string, b: string): string {
  const x = parts(a);
  const y = parts(b);
  const scale = Math.max(x.frac.length, y.frac.length);
  const scaled = (p: typeof x) => p.sign * BigInt(p.digits + p.frac.padEnd(scale, '0'));
  const sum = scaled(x) + scaled(y);
  const neg = sum < 0n;
  const text = (neg ? -sum : sum).toString().padStart(scale + 1, '0');
  const whole = text.slice(0, text.length - scale);
  return `${neg ? '-' : ''}${whole}${scale ? `.${text.slice(text.length - scale)}` : ''}`;
}

/** Sums by key (a currency): the map gets `key → total`. */
export function addTo(totals: Map<string, string>, key: string, v: string): void {
  totals.set(key, addDecimal(totals.get(key) ?? '0', v));
}

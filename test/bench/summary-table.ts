// The table `npm run bench` prints after its JSON lines: every measurement beside its baseline
// and their ratio, and which benchmarks failed (a failed check prints no number).
import { formatTable } from '../../pipeline/cli/format-table.js';
import type { Measurement } from './harness.js';

const number = (v: number) => (Number.isInteger(v) ? v.toLocaleString('en-US') : String(v));

export function benchTable(measurements: readonly Measurement[], failed: readonly string[] = []): string {
  const rows = measurements.map((m) => [
    m.bench,
    m.metric,
    `${number(m.value)} ${m.unit}`,
    `${number(m.baseline_value)} ${m.unit}`,
    `${m.ratio}×`,
    m.better,
    m.baseline,
  ]);
  const table = formatTable(['bench', 'metric', 'value', 'baseline', 'ratio', 'better', 'baseline is'], rows);
  return failed.length ? `${table}\nFAILED: ${failed.join(', ')} (see stderr)` : table;
}

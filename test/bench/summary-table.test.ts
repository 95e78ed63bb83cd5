// The human table `npm run bench` prints after its JSON lines.
import { expect, it } from 'vitest';
import { benchTable } from './summary-table.js';

it('lists every measurement with its baseline and ratio, then the failed benchmarks', () => {
  const base = { unit: 'rows/s', better: 'higher' as const, baseline: 'plain COPY' };
  const text = benchTable(
    [
      { bench: 'staging', metric: 'insert', value: 123456, baseline_value: 200000, ratio: 0.617, ...base },
      {
        bench: 'reconcile',
        metric: 'full_ms',
        value: 900,
        baseline_value: 450,
        ratio: 2,
        ...base,
        unit: 'ms',
      },
    ],
    ['cdc'],
  );
  const lines = text.split('\n');
  expect(lines[0]).toMatch(/^bench\s+metric\s+value\s+baseline\s+ratio\s+better\s+baseline is$/);
  expect(lines[2]).toMatch(
    /^staging\s+insert\s+123,456 rows\/s\s+200,000 rows\/s\s+0\.617×\s+higher\s+plain COPY$/,
  );
  expect(lines[3]).toMatch(/^reconcile\s+full_ms\s+900 ms\s+450 ms\s+2×/);
  expect(lines.at(-1)).toBe('FAILED: cdc (see stderr)');
});

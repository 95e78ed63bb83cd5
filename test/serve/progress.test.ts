// Progress of long CLI work (pipeline/cli/progress.ts): a bar with rows, rate and ETA on a
// terminal; plain lines, at most one per interval and a final one, when output is not a terminal.
import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { createProgress } from '../../pipeline/cli/progress.js';

function terminal(): NodeJS.WriteStream & { text: () => string } {
  let out = '';
  const w = new Writable({
    write(chunk, _enc, done) {
      out += chunk;
      done();
    },
  }) as unknown as NodeJS.WriteStream & { text: () => string };
  Object.assign(w, { isTTY: true, columns: 160, text: () => out });
  return w;
}

it('prints plain lines, at most one per interval, with rows, percentage, rate and ETA', () => {
  let now = 0;
  const lines: string[] = [];
  const p = createProgress('customer', {
    total: 10_000,
    tty: false,
    everyMs: 1_000,
    now: () => now,
    log: (l) => lines.push(l),
  });
  now = 500;
  p.tick(1_000); // within the interval: no line
  now = 1_000;
  p.tick(1_000);
  now = 1_200;
  p.tick(500);
  now = 2_000;
  p.update(5_000);
  p.stop('staged');
  p.stop('staged'); // once
  expect(lines).toEqual([
    'customer: 2,000 / 10,000 rows (20%), 2,000 rows/s, ETA 4.0 s',
    'customer: 5,000 / 10,000 rows (50%), 2,500 rows/s, ETA 2.0 s',
    'customer: 5,000 rows staged in 2.0 s (2,500 rows/s)',
  ]);
});

it('prints without a total until it is known', () => {
  let now = 0;
  const lines: string[] = [];
  const p = createProgress('sync acme/crm', {
    tty: false,
    everyMs: 1_000,
    now: () => now,
    log: (l) => lines.push(l),
  });
  now = 1_000;
  p.tick(300);
  p.setTotal(600);
  now = 2_000;
  p.tick(300);
  p.stop();
  expect(lines).toEqual([
    'sync acme/crm: 300 rows, 300 rows/s',
    'sync acme/crm: 600 / 600 rows (100%), 300 rows/s',
    'sync acme/crm: 600 rows done in 2.0 s (300 rows/s)',
  ]);
});

it('draws a bar with rows, rate and ETA on a terminal', async () => {
  const stream = terminal();
  const p = createProgress('invoice', { total: 1_000, stream, tty: true });
  p.tick(250);
  await new Promise((r) => setTimeout(r, 250));
  p.tick(250);
  p.stop();
  const text = stream.text();
  expect(text).toMatch(/invoice \[[█░]+\] 50% \| 500\/1000 rows \| [\d,]+ rows\/s \| ETA \S+/);
  // A second bar without a total shows rows, rate and elapsed time.
  const open = terminal();
  const q = createProgress('backfill', { stream: open, tty: true });
  q.tick(42);
  q.stop();
  expect(open.text()).toMatch(/backfill 42 rows \| [\d,]+ rows\/s \| \d+s/);
});

it('uses plain lines when stdout is not a terminal', () => {
  const stream = terminal(); // stderr is a terminal, stdout (vitest's) is not
  const p = createProgress('order', { total: 10, stream, everyMs: 0 });
  p.tick(5);
  p.stop('compared');
  expect(stream.text()).toMatch(
    /^order: 5 \/ 10 rows \(50%\), [\d,]+ rows\/s, ETA .+\norder: 5 rows compared in .+\n$/,
  );
});

it('counts in its own unit, and leaves short work without a final line when asked', () => {
  let now = 0;
  const lines: string[] = [];
  const opts = { tty: false, everyMs: 1_000, now: () => now, log: (l: string) => lines.push(l) };
  const short = createProgress('apply acme', { ...opts, total: 3, unit: 'actions', finalOnlyIfLong: true });
  short.update(3);
  short.stop('decided');
  expect(lines).toEqual([]);
  const long = createProgress('apply acme', { ...opts, total: 300, unit: 'actions', finalOnlyIfLong: true });
  now = 1_000;
  long.update(100);
  now = 2_000;
  long.update(300);
  long.stop('decided');
  expect(lines).toEqual([
    'apply acme: 100 / 300 actions (33%), 100 actions/s, ETA 2.0 s',
    'apply acme: 300 / 300 actions (100%), 150 actions/s',
    'apply acme: 300 actions decided in 2.0 s (150 actions/s)',
  ]);
});

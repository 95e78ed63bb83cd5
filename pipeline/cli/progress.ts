// Progress of long CLI work (a full sync, a backfill, a full reconcile, apply): on a terminal a
// cli-progress bar with rows, rate and ETA on stderr; otherwise (stdout or stderr redirected, a
// scheduler's log) a plain line every `everyMs` and one at the end, so logs stay readable.
//
//   const p = createProgress('customer', { total: 120_000 });
//   p.tick(5_000);            // or p.update(done), p.setTotal(n) when the total becomes known
//   p.stop('staged');         // final line: "customer: 120000 rows staged in 8.1 s (14815 rows/s)"
import cliProgress from 'cli-progress';

// cli-progress is CommonJS without named ESM exports.
const { Format, Presets, SingleBar } = cliProgress;

export interface Progress {
  /** Sets or changes the total (rows); without one the bar shows rows and rate only. */
  setTotal(total: number): void;
  /** Adds `n` rows done (default 1). */
  tick(n?: number): void;
  /** Sets the rows done. */
  update(done: number): void;
  /** Ends the bar (or prints the last line); `verb` names what was done ("staged", "compared"). */
  stop(verb?: string): void;
}

export interface ProgressOptions {
  total?: number;
  /** Where the bar or the lines go (default stderr: stdout belongs to command output). */
  stream?: NodeJS.WriteStream;
  /** Draw a bar (default: when both stdout and `stream` are terminals). */
  tty?: boolean;
  /** Plain mode: at most one line per this many ms (default 10 s). */
  everyMs?: number;
  /** Plain mode: where a line goes (default: written to `stream`). */
  log?: (line: string) => void;
  /** Clock (ms), for tests. */
  now?: () => number;
  /** What is counted (default "rows"). */
  unit?: string;
  /**
   * Plain mode: the final line only when an interval line was printed before it (work that
   * ended within `everyMs` leaves the command's own output alone). Default false.
   */
  finalOnlyIfLong?: boolean;
}

const count = (n: number) => Math.round(n).toLocaleString('en-US');

function seconds(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function createProgress(label: string, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? (process.stdout.isTTY === true && stream.isTTY === true);
  return tty
    ? barProgress(label, stream, opts.total, opts.unit ?? 'rows')
    : lineProgress(label, stream, opts);
}

function barProgress(
  label: string,
  stream: NodeJS.WriteStream,
  initialTotal: number | undefined,
  unit: string,
): Progress {
  let total = initialTotal ?? 0;
  let done = 0;
  const started = Date.now();
  const withTotal = `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`;
  const withoutTotal = `${label} {value} ${unit} | {rate} ${unit}/s | {duration_formatted}`;
  const bar = new SingleBar(
    {
      stream,
      // cli-progress's own formatter fills the placeholders; the format follows whether a total is known.
      format: (options, params, payload) =>
        Format.Formatter({ ...options, format: total > 0 ? withTotal : withoutTotal }, params, payload),
      hideCursor: true,
      // trueup's entry point owns SIGINT/SIGTERM (a clean stop); the bar must not exit the process.
      gracefulExit: false,
      etaBuffer: 50,
      fps: 5,
    },
    Presets.shades_classic,
  );
  const rate = () => count(done / Math.max(0.001, (Date.now() - started) / 1000));
  bar.start(total, 0, { rate: '0' });
  return {
    setTotal(n) {
      total = n;
      bar.setTotal(n);
    },
    tick(n = 1) {
      done += n;
      bar.update(done, { rate: rate() });
    },
    update(n) {
      done = n;
      bar.update(done, { rate: rate() });
    },
    stop() {
      bar.update(done, { rate: rate() });
      bar.stop();
    },
  };
}

function lineProgress(label: string, stream: NodeJS.WriteStream, opts: ProgressOptions): Progress {
  const now = opts.now ?? Date.now;
  const everyMs = opts.everyMs ?? 10_000;
  const log = opts.log ?? ((line: string) => stream.write(`${line}\n`));
  const started = now();
  let total = opts.total;
  let done = 0;
  const unit = opts.unit ?? 'rows';
  let lastLine = started;
  let printed = false;
  let stopped = false;
  const line = (final: string | undefined) => {
    const elapsed = now() - started;
    const rate = done / Math.max(0.001, elapsed / 1000);
    if (final !== undefined)
      return `${label}: ${count(done)} ${unit} ${final} in ${seconds(elapsed)} (${count(rate)} ${unit}/s)`;
    const of = total ? ` / ${count(total)} ${unit} (${Math.floor((done / total) * 100)}%)` : ` ${unit}`;
    const eta = total && rate > 0 && done < total ? `, ETA ${seconds(((total - done) / rate) * 1000)}` : '';
    return `${label}: ${count(done)}${of}, ${count(rate)} ${unit}/s${eta}`;
  };
  const maybe = () => {
    if (stopped || now() - lastLine < everyMs) return;
    lastLine = now();
    printed = true;
    log(line(undefined));
  };
  return {
    setTotal(n) {
      total = n;
    },
    tick(n = 1) {
      done += n;
      maybe();
    },
    update(n) {
      done = n;
      maybe();
    },
    stop(verb = 'done') {
      if (stopped) return;
      stopped = true;
      if (opts.finalOnlyIfLong && !printed) return;
      log(line(verb));
    },
  };
}

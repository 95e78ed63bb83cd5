// Benchmark harness. Each benchmark measures its subject and a baseline in the same run and
// reports one JSON line per measurement:
// {"bench":NAME,"metric":...,"value":...,"unit":...,"baseline":...,"baseline_value":...,"ratio":...}
// ratio = value / baseline_value for throughputs (higher is better) and for times alike; the
// `better` field says which direction is good so a reader need not guess. Every benchmark checks
// what it measured (`check`): a wrong result fails the run instead of printing a number.
import { performance } from 'node:perf_hooks';
import type { PostgresServer } from '../../pipeline/embedded/postgres-server.js';
import type { Staging } from '../../staging/database.js';

export interface MeasurementInput {
  metric: string;
  value: number;
  unit: string;
  baseline: string;
  baseline_value: number;
  ratio?: number;
  better: 'higher' | 'lower';
  /** Context such as row counts or peak RSS. */
  [extra: string]: unknown;
}

export interface Measurement extends MeasurementInput {
  bench: string;
  ratio: number;
}

export interface BenchContext {
  /** The embedded (or TRUEUP_DATABASE_URL) server, shared by every benchmark of the run. */
  server: PostgresServer;
  /** A fresh migrated database for this benchmark. */
  freshDatabase(name: string): Promise<{ url: string; staging: Staging }>;
  /** A scratch folder for this benchmark (mirrors, files). */
  workDir: string;
  /** Scale factor from TRUEUP_BENCH_SCALE (default 1): 0.1 runs a tenth of the rows for a quick check. */
  scale: number;
  emit(m: MeasurementInput): void;
}

export interface BenchDefinition {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<void>;
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const start = performance.now();
  const result = await fn();
  return { ms: performance.now() - start, result };
}

/** Samples RSS while `fn` runs and returns the peak in MiB. */
export async function peakRss<T>(fn: () => Promise<T>): Promise<{ peakMiB: number; result: T }> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { peakMiB: peak / 2 ** 20, result };
  } finally {
    clearInterval(timer);
  }
}

/** A benchmark measured something other than what it claims (rows missing, a run failed). */
export class BenchCheckError extends Error {
  override name = 'BenchCheckError';
}

/** Fails the benchmark with `message` unless `ok`: a number from a wrong result means nothing. */
export function check(ok: boolean, message: string): asserts ok {
  if (!ok) throw new BenchCheckError(message);
}

/** Fails the benchmark unless the two sets are equal, naming a few members of each difference. */
export function checkSameSet(what: string, want: Iterable<string>, got: Iterable<string>): void {
  const w = new Set(want);
  const g = new Set(got);
  const missing = [...w].filter((k) => !g.has(k));
  const extra = [...g].filter((k) => !w.has(k));
  const some = (xs: string[]) => `${xs.slice(0, 5).join(', ')}${xs.length > 5 ? ', …' : ''}`;
  check(
    !missing.length && !extra.length,
    `${what}: ${missing.length} expected but missing (${some(missing)}), ${extra.length} unexpected (${some(extra)}); expected ${w.size}, got ${g.size}`,
  );
}

// Benchmark harness. Each benchmark measures its subject and a baseline in the same run and
// reports one JSON line per measurement:
// {"bench":NAME,"metric":...,"value":...,"unit":...,"baseline":...,"baseline_value":...,"ratio":...}
// ratio = value / baseline_value for throughputs (higher is better) and for times alike; the
// `better` field says which direction is good so a reader need not guess.
import { performance } from 'node:perf_hooks';
import type { Staging } from '../../staging/database.js';
import type { PostgresServer } from '../../staging/postgres-server.js';

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

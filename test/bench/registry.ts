// Every benchmark `npm run bench` knows, in the order they run.

import { cdcBench } from './cdc.bench.js';
import { extractBench } from './extract.bench.js';
import type { BenchDefinition } from './harness.js';
import { memoryBench } from './memory.bench.js';
import { reconcileBench } from './reconcile.bench.js';
import { reportBench } from './report.bench.js';
import { stagingBench } from './staging.bench.js';

export const BENCHMARKS: BenchDefinition[] = [
  stagingBench,
  cdcBench,
  extractBench,
  reconcileBench,
  reportBench,
  memoryBench,
];

// Every benchmark `npm run bench` knows, in the order they run.
import type { BenchDefinition } from './harness.js';
import { stagingBench } from './staging.bench.js';

export const BENCHMARKS: BenchDefinition[] = [stagingBench];

// The main side of the reconcile pool: a bounded piscina pool of worker threads, each job on
// its own DuckDB. When the worker file is not compiled JavaScript (running from the TypeScript
// sources under vitest), jobs run inline in this thread through the same function.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { JobResult, ReconcileJob } from './job-protocol.js';

export interface ReconcilePool {
  readonly threaded: boolean;
  readonly threads: number;
  run(job: ReconcileJob): Promise<JobResult>;
  close(): Promise<void>;
}

export function createReconcilePool(opts: { threads?: number; inline?: boolean } = {}): ReconcilePool {
  const threads = Math.max(1, opts.threads ?? Math.min(2, availableParallelism()));
  const workerUrl = new URL('./reconcile-worker.js', import.meta.url);
  const workerFile = fileURLToPath(workerUrl);
  if (!opts.inline && import.meta.url.endsWith('.js') && existsSync(workerFile)) {
    const piscina = new Piscina({
      filename: workerUrl.href,
      minThreads: 0,
      maxThreads: threads,
      maxQueue: 1_000,
      idleTimeout: 5_000,
    });
    return {
      threaded: true,
      threads,
      run: (job) => piscina.run(job) as Promise<JobResult>,
      close: () => piscina.destroy(),
    };
  }
  // Inline: the same job function, at most `threads` at a time.
  let active = 0;
  const waiting: (() => void)[] = [];
  return {
    threaded: false,
    threads,
    async run(job) {
      if (active >= threads) await new Promise<void>((r) => waiting.push(r));
      active++;
      try {
        const { runReconcileJob } = await import('./reconcile-job.js');
        return await runReconcileJob(job);
      } finally {
        active--;
        waiting.shift()?.();
      }
    },
    async close() {},
  };
}

// The main side of the reconcile pool: one piscina pool of one worker thread per slot, each job of
// a tenant × entity on one of them with its own DuckDB (placed by scheduler.ts). Threads live until
// the pool is closed and keep the mirrors of their last jobs open (job-resources.ts). A job over
// the time limit (workers.jobTimeoutMs) has its thread ended, so a job hung on a lock does not hold
// up the jobs and tenants behind it. Run from the TypeScript sources (vitest), where piscina cannot
// load the worker, jobs run inline in this thread through the same function and scheduler.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { JobResult, ReconcileJob } from './job-protocol.js';
import type { WorkerReply } from './reconcile-worker.js';
import { type Executor, type JobTimers, Scheduler } from './scheduler.js';

export interface ReconcilePool {
  readonly threaded: boolean;
  readonly threads: number;
  run(job: ReconcileJob): Promise<JobResult>;
  close(): Promise<void>;
}

export interface ReconcilePoolOptions {
  threads?: number;
  inline?: boolean;
  /** Mirrors each thread keeps open between jobs (default 2; 0 closes each after its job). */
  keepOpen?: number;
  /** A job running longer fails and its thread is ended (default 2 hours; 0 = no limit). */
  jobTimeoutMs?: number;
  /** The job time limit's timer; tests pass their own to fire it on a condition. */
  timers?: JobTimers;
}

export const DEFAULT_JOB_TIMEOUT_MS = 2 * 60 * 60 * 1000;

export function threadedExecutor(
  size: number,
  keepOpen: number,
  filename = new URL('./reconcile-worker.js', import.meta.url).href,
): Executor {
  const slots: (Piscina | undefined)[] = Array.from({ length: size });
  const slot = (i: number) => {
    // One thread per slot, started on first use and kept until close; two tasks at a time so
    // a release request is served while the thread runs a job.
    slots[i] ??= new Piscina({
      filename,
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: 2,
      idleTimeout: 2 ** 31 - 1,
      maxQueue: 1_000,
      // Piscina's default parks an idle thread in Atomics.wait, so an error left behind by one
      // job (a timer, a socket event) would only surface during the thread's next job — another
      // tenant's — and fail it. With the event loop running between jobs it surfaces at once.
      atomics: 'disabled',
    });
    // An error of an idle thread (no job to fail) is emitted on the pool: without a listener it
    // would end the whole process and every tenant's run. Piscina replaces the thread.
    slots[i].on('error', () => {});
    return slots[i]!;
  };
  return {
    async run(i, job, signal) {
      const p = slot(i);
      const threads = [...p.threads];
      try {
        return (await p.run({ job, keepOpen }, signal ? { signal } : {})) as WorkerReply;
      } catch (err) {
        // Aborted (over the time limit): piscina ends the thread. Wait until it has exited, so
        // the mirror it had open is closed before another job of that mirror opens it.
        if (signal?.aborted) await Promise.all(threads.map((w) => exited(w, 30_000)));
        throw err;
      }
    },
    async release(i, keys) {
      await slots[i]?.run({ keys }, { name: 'release' });
    },
    async close() {
      await Promise.all(
        slots.map(async (p) => {
          if (!p) return;
          await p.run(null, { name: 'shutdown' }).catch(() => {});
          await p.destroy();
        }),
      );
    },
  };
}

/** Resolves when the thread has exited, or after `ms`. */
function exited(w: Worker, ms: number): Promise<void> {
  if (w.threadId === -1) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    w.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function inlineExecutor(keepOpen: number): Promise<Executor> {
  const { runJob, shutdown } = await import('./reconcile-worker.js');
  return {
    // One thread: every slot shares its resources, so no slot holds anything of its own. A job
    // over the time limit cannot be ended here (it shares the thread); it runs on and is ignored.
    run: async (_i, job) => ({ ...(await runJob({ job, keepOpen })), held: [] }),
    async release() {},
    close: shutdown,
  };
}

export function createReconcilePool(opts: ReconcilePoolOptions = {}): ReconcilePool {
  const threads = Math.max(1, opts.threads ?? Math.min(2, availableParallelism()));
  const keepOpen = Math.max(0, opts.keepOpen ?? 2);
  // setTimeout takes at most 2^31 - 1 ms.
  const jobTimeoutMs = Math.min(2 ** 31 - 1, Math.max(0, opts.jobTimeoutMs ?? DEFAULT_JOB_TIMEOUT_MS));
  const workerFile = fileURLToPath(new URL('./reconcile-worker.js', import.meta.url));
  const threaded = !opts.inline && import.meta.url.endsWith('.js') && existsSync(workerFile);
  // Started by the first job: a pool nobody runs a job on loads no worker (and, inline, imports
  // nothing after its creator may have finished).
  let executor: Promise<Executor> | undefined;
  let scheduler: Promise<Scheduler> | undefined;
  const started = () => {
    executor ??= threaded ? Promise.resolve(threadedExecutor(threads, keepOpen)) : inlineExecutor(keepOpen);
    scheduler ??= executor.then((e) => new Scheduler(threads, e, jobTimeoutMs, opts.timers));
    return scheduler;
  };
  return {
    threaded,
    threads,
    run: async (job) => (await started()).run(job),
    close: async () => {
      if (executor) await (await executor).close();
    },
  };
}

// The main side of the reconcile pool: worker threads, each job of a tenant × entity on one of
// them with its own DuckDB. Threads live until the pool is closed and keep the mirrors of their
// last jobs open (job-resources.ts), so a job goes to the thread that holds its mirror: one
// piscina pool of one thread per slot, and a scheduler here that knows which slot holds which
// mirror. A mirror is open in at most one thread (DuckDB's file lock does not separate threads of
// one process): when its holder is busy with another job and some slot is idle, the holder is
// asked to close it first. Jobs of the same mirror never run at the same time.
//
// A job that runs longer than the pool's job time limit (workers.jobTimeoutMs) fails with
// JobTimeoutError and its thread is ended (piscina terminates the thread of an aborted task), so
// a job hung on a lock does not hold up the jobs and tenants behind it.
//
// When the worker file is not compiled JavaScript (running from the TypeScript sources under
// vitest), jobs run inline in this thread through the same function and the same scheduler.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { type JobResult, mirrorFile, type ReconcileJob } from './job-protocol.js';
import type { WorkerReply } from './reconcile-worker.js';

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
}

export const DEFAULT_JOB_TIMEOUT_MS = 2 * 60 * 60 * 1000;

interface Slot {
  busy: boolean;
  /** Mirrors this slot may hold open (a superset of what it holds). */
  held: Set<string>;
}

interface Task {
  key: string;
  job: ReconcileJob;
  resolve(r: JobResult): void;
  reject(e: Error): void;
}

/** Runs jobs on slots and closes mirrors a slot holds (exported for the scheduler's tests). */
export interface Executor {
  /** `signal` aborts a job over the time limit: a threaded executor ends the job's thread. */
  run(slot: number, job: ReconcileJob, signal?: AbortSignal): Promise<WorkerReply>;
  release(slot: number, keys: string[]): Promise<void>;
  close(): Promise<void>;
}

function toError(e: { name: string; message: string; stack?: string }): Error {
  const err = new Error(e.message);
  err.name = e.name;
  if (e.stack) err.stack = e.stack;
  return err;
}

/** A reconcile worker thread ended (crash, out of memory) while it ran a job. */
export class WorkerCrashError extends Error {
  override name = 'WorkerCrashError';
  readonly kind = 'transient';
  readonly tenant: string;
  readonly entity: string;
  constructor(job: Pick<ReconcileJob, 'tenant' | 'entity'>, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`worker thread crashed while reconciling tenant ${job.tenant}, entity ${job.entity}: ${why}`, {
      cause,
    });
    this.tenant = job.tenant;
    this.entity = job.entity;
  }
}

/** A reconcile job ran longer than the pool's job time limit and was stopped. */
export class JobTimeoutError extends Error {
  override name = 'JobTimeoutError';
  readonly kind = 'transient';
  readonly tenant: string;
  readonly entity: string;
  readonly limitMs: number;
  constructor(job: Pick<ReconcileJob, 'tenant' | 'entity'>, limitMs: number) {
    super(
      `reconcile job of tenant ${job.tenant}, entity ${job.entity} ran longer than the job time limit ` +
        `of ${limitMs} ms (workers.jobTimeoutMs) and was stopped`,
    );
    this.tenant = job.tenant;
    this.entity = job.entity;
    this.limitMs = limitMs;
  }
}

/** Places jobs on slots: same mirror → same slot, one job per mirror and per slot at a time. */
export class Scheduler {
  private readonly slots: Slot[];
  private readonly queue: Task[] = [];
  private readonly running = new Set<string>();
  private readonly releasing = new Set<string>();

  constructor(
    size: number,
    private readonly exec: Executor,
    /** Job time limit in ms; 0 = none. */
    private readonly timeoutMs = 0,
  ) {
    this.slots = Array.from({ length: size }, () => ({ busy: false, held: new Set<string>() }));
  }

  run(job: ReconcileJob): Promise<JobResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ key: mirrorFile(job), job, resolve, reject });
      this.pump();
    });
  }

  private holder(key: string): number {
    return this.slots.findIndex((s) => s.held.has(key));
  }

  private pump(): void {
    for (const t of [...this.queue]) {
      if (this.running.has(t.key) || this.releasing.has(t.key)) continue;
      const h = this.holder(t.key);
      let target = -1;
      if (h >= 0) target = this.slots[h]!.busy ? -1 : h;
      else
        for (let i = 0; i < this.slots.length; i++)
          if (
            !this.slots[i]!.busy &&
            (target < 0 || this.slots[i]!.held.size < this.slots[target]!.held.size)
          )
            target = i;
      if (target >= 0) this.start(t, target);
    }
    // A slot left idle while jobs wait for a busy holder: move one such mirror over.
    for (const t of this.queue) {
      if (!this.slots.some((s) => !s.busy)) break;
      if (this.running.has(t.key) || this.releasing.has(t.key)) continue;
      const h = this.holder(t.key);
      if (h < 0 || !this.slots[h]!.busy) continue;
      this.releasing.add(t.key);
      this.exec
        .release(h, [t.key])
        .catch(() => {})
        .finally(() => {
          this.slots[h]!.held.delete(t.key);
          this.releasing.delete(t.key);
          this.pump();
        });
    }
  }

  private start(t: Task, slot: number): void {
    this.queue.splice(this.queue.indexOf(t), 1);
    const s = this.slots[slot]!;
    s.busy = true;
    s.held.add(t.key);
    this.running.add(t.key);
    // A job over the time limit is answered and frees its slot at once; its mirror stays
    // `running` until the executor is done with it (a threaded executor once the thread has
    // exited, an inline one when the job ends), so no other job opens that mirror meanwhile.
    let freed = false;
    let answered = false;
    const free = (held: readonly string[] | undefined) => {
      if (freed) return;
      freed = true;
      if (held) s.held = new Set(held);
      s.busy = false;
    };
    const answer = (done: () => void) => {
      if (answered) return;
      answered = true;
      done();
    };
    const abort = new AbortController();
    const timer =
      this.timeoutMs > 0
        ? setTimeout(() => {
            const err = new JobTimeoutError(t.job, this.timeoutMs);
            abort.abort(err);
            free([]);
            answer(() => t.reject(err));
            this.pump();
          }, this.timeoutMs)
        : undefined;
    const settle = (held: readonly string[] | undefined, done: () => void) => {
      clearTimeout(timer);
      // The slot is free again before the caller hears back, so its next job can take it.
      free(held);
      this.running.delete(t.key);
      answer(done);
      this.pump();
    };
    this.exec.run(slot, t.job, abort.signal).then(
      (reply) =>
        settle(reply.held, () => (reply.ok ? t.resolve(reply.result) : t.reject(toError(reply.error)))),
      // The thread died under the job (a job's own errors come back as a reply): only this job
      // fails, the slot gets a fresh thread, and the mirrors the dead thread held are gone.
      (err: unknown) => settle([], () => t.reject(new WorkerCrashError(t.job, err))),
    );
  }
}

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
  const executor: Promise<Executor> = threaded
    ? Promise.resolve(threadedExecutor(threads, keepOpen))
    : inlineExecutor(keepOpen);
  const scheduler = executor.then((e) => new Scheduler(threads, e, jobTimeoutMs));
  return {
    threaded,
    threads,
    run: async (job) => (await scheduler).run(job),
    close: async () => (await executor).close(),
  };
}

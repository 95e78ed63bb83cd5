// Places reconcile jobs on the pool's slots (one thread each): a job goes to the slot that holds
// its mirror open, one job per mirror and per slot at a time; a slot left idle while jobs wait for
// a busy holder gets one of those mirrors moved over (a mirror is open in at most one thread:
// DuckDB's file lock does not separate threads of one process). A job over the time limit fails
// with JobTimeoutError and frees its slot; a thread that dies fails only its job (WorkerCrashError).
import { TrueupError } from '../../staging/model/errors.js';
import { type JobResult, mirrorFile, type ReconcileJob } from './job-protocol.js';
import type { WorkerReply } from './reconcile-worker.js';

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

/**
 * A job's error as the thread sent it back: a TrueupError of the same name, kind and subject (the
 * class itself does not cross the thread boundary), so callers can still read its kind.
 */
function toError(e: WorkerReply & { ok: false }): Error {
  const err = new TrueupError(e.error.message, { kind: e.error.kind, subject: e.error.subject ?? {} });
  err.name = e.error.name;
  if (e.error.stack) err.stack = e.error.stack;
  return err;
}

/** A reconcile worker thread ended (crash, out of memory) while it ran a job. */
export class WorkerCrashError extends TrueupError {
  override name = 'WorkerCrashError';
  readonly tenant: string;
  readonly entity: string;
  constructor(job: Pick<ReconcileJob, 'tenant' | 'entity'>, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`worker thread crashed while reconciling tenant ${job.tenant}, entity ${job.entity}: ${why}`, {
      kind: 'transient',
      subject: { tenant: job.tenant, entity: job.entity },
      cause,
    });
    this.tenant = job.tenant;
    this.entity = job.entity;
  }
}

/** A reconcile job ran longer than the pool's job time limit and was stopped. */
export class JobTimeoutError extends TrueupError {
  override name = 'JobTimeoutError';
  readonly tenant: string;
  readonly entity: string;
  readonly limitMs: number;
  constructor(job: Pick<ReconcileJob, 'tenant' | 'entity'>, limitMs: number) {
    super(
      `reconcile job of tenant ${job.tenant}, entity ${job.entity} ran longer than the job time limit ` +
        `of ${limitMs} ms (workers.jobTimeoutMs) and was stopped`,
      { kind: 'transient', subject: { tenant: job.tenant, entity: job.entity } },
    );
    this.tenant = job.tenant;
    this.entity = job.entity;
    this.limitMs = limitMs;
  }
}

/** Places jobs on slots: same mirror → same slot, one job per mirror and per slot at a time. */
/** The job time limit's timer (tests fire their own on a condition instead of waiting for it). */
export interface JobTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}
const REAL_TIMERS: JobTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout),
};

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
    private readonly timers: JobTimers = REAL_TIMERS,
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
        ? this.timers.setTimeout(() => {
            const err = new JobTimeoutError(t.job, this.timeoutMs);
            abort.abort(err);
            free([]);
            answer(() => t.reject(err));
            this.pump();
          }, this.timeoutMs)
        : undefined;
    const settle = (held: readonly string[] | undefined, done: () => void) => {
      if (timer !== undefined) this.timers.clearTimeout(timer);
      // The slot is free again before the caller hears back, so its next job can take it.
      free(held);
      this.running.delete(t.key);
      answer(done);
      this.pump();
    };
    this.exec.run(slot, t.job, abort.signal).then(
      (reply) => settle(reply.held, () => (reply.ok ? t.resolve(reply.result) : t.reject(toError(reply)))),
      // The thread died under the job (a job's own errors come back as a reply): only this job
      // fails, the slot gets a fresh thread, and the mirrors the dead thread held are gone.
      (err: unknown) => settle([], () => t.reject(new WorkerCrashError(t.job, err))),
    );
  }
}

// The thread side of the reconcile pool (reconcile-pool.ts): piscina calls the default export with
// one job description and gets a small reply back — the job's result or its error, and the mirrors
// this thread now holds open. `release` closes mirrors the pool wants to move to another thread;
// `shutdown` closes everything before the pool ends the thread. The heavy work is DuckDB's and
// Postgres's.
import { type ErrorKind, type ErrorSubject, TrueupError } from '../../staging/model/errors.js';
import { runReconcileJob } from '../job/reconcile-job.js';
import type { JobResult, ReconcileJob } from './job-protocol.js';
import { JobResources } from './job-resources.js';

/** A job's error as plain data (its class does not cross the thread boundary). */
export interface SentError {
  name: string;
  message: string;
  stack?: string;
  kind?: ErrorKind;
  subject?: ErrorSubject;
}

export type WorkerReply = ({ ok: true; result: JobResult } | { ok: false; error: SentError }) & {
  held: string[];
};

let resources: JobResources | undefined;

export async function runJob(task: { job: ReconcileJob; keepOpen: number }): Promise<WorkerReply> {
  resources ??= new JobResources(task.keepOpen);
  try {
    const result = await runReconcileJob(task.job, resources);
    return { ok: true, result, held: resources.held() };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    return {
      ok: false,
      error: {
        name: e.name,
        message: e.message,
        ...(e.stack ? { stack: e.stack } : {}),
        ...(e instanceof TrueupError ? { kind: e.kind, subject: { ...e.subject } } : {}),
      },
      held: resources.held(),
    };
  }
}

export default runJob;

export async function release(task: { keys: string[] }): Promise<void> {
  resources?.release(task.keys);
}

export async function shutdown(): Promise<void> {
  const r = resources;
  resources = undefined;
  await r?.closeAll();
}

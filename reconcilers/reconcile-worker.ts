// The thread side of the reconcile pool (pool.ts): piscina calls the default export with one job
// description and gets a small reply back — the job's result or its error, and the mirrors this
// thread now holds open. `release` closes mirrors the pool wants to move to another thread;
// `shutdown` closes everything before the pool ends the thread. Everything heavy happens in
// DuckDB and Postgres.
import type { JobResult, ReconcileJob } from './job-protocol.js';
import { JobResources } from './job-resources.js';
import { runReconcileJob } from './reconcile-job.js';

export type WorkerReply = (
  | { ok: true; result: JobResult }
  | { ok: false; error: { name: string; message: string; stack?: string } }
) & { held: string[] };

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
      error: { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) },
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

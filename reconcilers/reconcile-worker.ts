// The thread side of the reconcile pool: piscina calls the default export with one job
// description and gets a small result back. Everything heavy happens in DuckDB and Postgres.
import type { JobResult, ReconcileJob } from './job-protocol.js';
import { runReconcileJob } from './reconcile-job.js';

export default async function reconcileWorker(job: ReconcileJob): Promise<JobResult> {
  return runReconcileJob(job);
}

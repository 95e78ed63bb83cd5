// A worker thread that crashes — during a job, or between jobs (an uncaught error in a timer or
// an event handler after its reply went back) — fails only the job it was running, with an error
// naming the tenant and entity, and never the process: the other jobs, of the same tenant or of
// others, still finish and the slot gets a fresh thread. Real piscina threads running a small
// JavaScript worker with the reconcile worker's interface.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ReconcileJob } from '../../reconcilers/pool/job-protocol.js';
import { threadedExecutor } from '../../reconcilers/pool/reconcile-pool.js';
import { type Executor, Scheduler } from '../../reconcilers/pool/scheduler.js';

const WORKER = `
export default async function run({ job }) {
  if (job.tenant === 'crash-now') {
    setTimeout(() => { throw new Error('native crash stand-in'); }, 5);
    await new Promise(() => {});
  }
  if (job.tenant === 'crash-later') setTimeout(() => { throw new Error('late uncaught error'); }, 30);
  else await new Promise((r) => setTimeout(r, 60)); // a real job waits on I/O
  return { ok: true, result: { tenant: job.tenant, entity: job.entity }, held: [] };
}
export async function release() {}
export async function shutdown() {}
`;

let dir: string;
let exec: Executor | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trueup-pool-crash-'));
  await writeFile(join(dir, 'worker.mjs'), WORKER);
});
afterAll(async () => {
  await exec?.close();
  await rm(dir, { recursive: true, force: true });
});

const job = (tenant: string, entity = 'customer') =>
  ({ tenant, entity, mirrorDir: `/m/${tenant}` }) as unknown as ReconcileJob;

it('a worker thread crashing during a job fails that job only, with a clear error', async () => {
  exec = threadedExecutor(2, 0, pathToFileURL(join(dir, 'worker.mjs')).href);
  const s = new Scheduler(2, exec);
  const [crashed, ...others] = await Promise.allSettled([
    s.run(job('crash-now', 'invoice')),
    s.run(job('t1')),
    s.run(job('t2')),
    s.run(job('t3', 'payment')),
  ]);
  expect(crashed).toMatchObject({ status: 'rejected' });
  const err = (crashed as PromiseRejectedResult).reason as Error;
  expect(err.message).toMatch(
    /worker thread crashed.*tenant crash-now.*entity invoice.*native crash stand-in/,
  );
  expect(others.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
  // Both slots still run jobs, the crashed one on a fresh thread.
  const after = await Promise.all([s.run(job('t4')), s.run(job('t5'))]);
  expect(after).toEqual([
    { tenant: 't4', entity: 'customer' },
    { tenant: 't5', entity: 'customer' },
  ]);
  await exec.close();
  exec = undefined;
});

it("an error a thread throws after its job's reply never fails the next tenant's job on that thread", async () => {
  exec = threadedExecutor(1, 0, pathToFileURL(join(dir, 'worker.mjs')).href);
  const s = new Scheduler(1, exec);
  await expect(s.run(job('crash-later'))).resolves.toEqual({ tenant: 'crash-later', entity: 'customer' });
  await new Promise((r) => setTimeout(r, 200));
  await expect(s.run(job('next-tenant'))).resolves.toEqual({ tenant: 'next-tenant', entity: 'customer' });
});

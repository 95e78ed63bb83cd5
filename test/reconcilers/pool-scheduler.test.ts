// The reconcile pool's scheduler with a scripted executor: a mirror's jobs go to the slot that
// holds it open and never run at the same time; a mirror moves to an idle slot only after its
// busy holder has closed it; a failed job rejects with its error.
import { describe, expect, it } from 'vitest';
import type { JobResult, ReconcileJob } from '../../reconcilers/pool/job-protocol.js';
import type { WorkerReply } from '../../reconcilers/pool/reconcile-worker.js';
import { type Executor, Scheduler } from '../../reconcilers/pool/scheduler.js';

const job = (tenant: string, entity: 'customer' | 'invoice' = 'customer') =>
  ({ tenant, entity, mirrorDir: `/m/${tenant}` }) as unknown as ReconcileJob;

/** An executor whose jobs finish when the test says so; it records what happened. */
function scripted(): Executor & {
  log: string[];
  finish(n: number, reply?: Partial<WorkerReply>): void;
  running: { slot: number; key: string }[];
} {
  const open: { slot: number; key: string; done: (r: WorkerReply) => void }[] = [];
  const log: string[] = [];
  return {
    log,
    get running() {
      return open.map(({ slot, key }) => ({ slot, key }));
    },
    run(slot, j) {
      const key = `${j.mirrorDir}/${j.entity}.duckdb`;
      log.push(`run ${slot} ${key}`);
      return new Promise((done) => open.push({ slot, key, done }));
    },
    async release(slot, keys) {
      log.push(`release ${slot} ${keys.join(',')}`);
    },
    async close() {},
    finish(n, reply) {
      const [o] = open.splice(n, 1);
      o!.done({
        ok: true,
        result: { entity: o!.key } as unknown as JobResult,
        held: [o!.key],
        ...reply,
      } as WorkerReply);
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('reconcile pool scheduler', () => {
  it('runs the jobs of one mirror one after the other, on the slot that holds it', async () => {
    const ex = scripted();
    const s = new Scheduler(2, ex);
    const a = s.run(job('t1'));
    const b = s.run(job('t1'));
    await tick();
    expect(ex.running).toEqual([{ slot: 0, key: '/m/t1/customer.duckdb' }]);
    ex.finish(0);
    await a;
    await tick();
    expect(ex.running).toEqual([{ slot: 0, key: '/m/t1/customer.duckdb' }]);
    ex.finish(0);
    await b;
    // Other mirrors spread over the idle slots; a held mirror returns to its holder.
    const c = s.run(job('t2'));
    const d = s.run(job('t1'));
    await tick();
    expect(ex.running).toEqual([
      { slot: 1, key: '/m/t2/customer.duckdb' },
      { slot: 0, key: '/m/t1/customer.duckdb' },
    ]);
    ex.finish(1);
    ex.finish(0);
    await Promise.all([c, d]);
  });

  it('moves a mirror to an idle slot only after its busy holder closed it', async () => {
    const ex = scripted();
    const s = new Scheduler(2, ex);
    const first = s.run(job('t1'));
    await tick();
    ex.finish(0, { held: ['/m/t1/customer.duckdb', '/m/t1/invoice.duckdb'] });
    await first;
    // Slot 0 holds both mirrors; it gets busy with one, the other moves to slot 1.
    const a = s.run(job('t1', 'customer'));
    const b = s.run(job('t1', 'invoice'));
    await tick();
    await tick();
    expect(ex.log.slice(1)).toEqual([
      'run 0 /m/t1/customer.duckdb',
      'release 0 /m/t1/invoice.duckdb',
      'run 1 /m/t1/invoice.duckdb',
    ]);
    ex.finish(0);
    ex.finish(0);
    await Promise.all([a, b]);
  });

  it('rejects a failed job with its error and keeps going', async () => {
    const ex = scripted();
    const s = new Scheduler(1, ex);
    const a = s.run(job('t1'));
    const b = s.run(job('t2'));
    await tick();
    ex.finish(0, { ok: false, error: { name: 'ReconcileError', message: 'tenant t1: broken' } } as never);
    await expect(a).rejects.toMatchObject({ name: 'ReconcileError', message: 'tenant t1: broken' });
    await tick();
    expect(ex.running).toEqual([{ slot: 0, key: '/m/t2/customer.duckdb' }]);
    ex.finish(0);
    await b;
  });
});

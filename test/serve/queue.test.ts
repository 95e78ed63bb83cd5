// Two serve instances (each its own pg-boss, scheduler, workers and lock sessions) on one staging
// database: every scheduled fire of three tenants becomes exactly one job, run exactly once;
// two runs of one tenant × entity never overlap (the second defers itself); a job whose process
// died is handed back to the queue.
import { expect, it } from 'vitest';
import { CronSchedule } from '../../pipeline/serve/cron-schedule.js';
import { JobQueue } from '../../pipeline/serve/job-queue.js';
import { LOCK_NAMES, LockSession } from '../../pipeline/serve/lock-session.js';
import { useTestDatabase } from '../support/database.js';
import {
  config,
  parsePrometheus,
  quietLogger,
  type RecordedReconcile,
  recordingWork,
  sleep,
  startTestServe,
  until,
} from './support.js';

const db = useTestDatabase('serveq');

const tenants = (schedule: string) =>
  config(`
tenants:
${['alpha', 'beta', 'gamma']
  .map(
    (t, i) => `  ${t}:
    timezone: ${['Europe/Berlin', 'America/New_York', 'Asia/Kolkata'][i]}
    schedule: "${schedule}"
    systems:
      crm: { kind: csv, role: crm, dropDir: /tmp/trueup-serve-test/${t}/crm }
      erp: { kind: csv, role: erp, dropDir: /tmp/trueup-serve-test/${t}/erp }
`,
  )
  .join('')}`);

it('two serve processes turn every scheduled fire of three tenants into one job, run once', async () => {
  const cfg = tenants('*/2 * * * * *');
  const log: RecordedReconcile[] = [];
  const a = await startTestServe(db, cfg, recordingWork('a', log));
  const b = await startTestServe(db, cfg, recordingWork('b', log));
  const bothUp = Date.now();
  await sleep(7_000);
  const stopping = Date.now();
  // A fire that finds the tenant's previous run still waiting in the queue joins it (no job of
  // its own): allowed, and counted, so a slow machine cannot fail the test for it.
  const joined = new Map<string, number>();
  for (const s of [a, b]) {
    const m = parsePrometheus(await s.metrics.text());
    for (const x of m.samples.get('trueup_scheduled_total') ?? [])
      if (x.labels.result === 'joined')
        joined.set(x.labels.tenant!, (joined.get(x.labels.tenant!) ?? 0) + x.value);
  }
  await Promise.all([a.stop(), b.stop()]);

  // Every fire instant while both ran, for every tenant, ran once; none ran twice.
  const schedule = new CronSchedule('*/2 * * * * *', 'UTC');
  const expected = schedule.between(bothUp, stopping - 1_500).map((t) => new Date(t).toISOString());
  schedule.dispose();
  expect(expected.length).toBeGreaterThanOrEqual(2);
  for (const t of ['alpha', 'beta', 'gamma']) {
    const ran = log.filter((r) => r.tenant === t).map((r) => r.job.scheduledAt!);
    expect(new Set(ran).size).toBe(ran.length);
    const missing = expected.filter((at) => !ran.includes(at));
    expect(missing.length).toBeLessThanOrEqual(joined.get(t) ?? 0);
  }
  // The queue agrees: per tenant and fire instant one job ran (completed, never retried); a job
  // made just before the stop may still wait in the queue; a run still going deferred its copy.
  const { rows } = await db.staging.pool.query(
    `SELECT data->>'tenant' AS tenant, data->>'scheduledAt' AS at, state, retry_count AS retries,
            coalesce(output->>'deferred' = 'true', false) AS deferred
       FROM pgboss.job WHERE name = 'reconcile'`,
  );
  const ranJobs = rows.filter((r) => r.state === 'completed' && !r.deferred);
  expect(rows.filter((r) => !['completed', 'created', 'retry'].includes(r.state))).toEqual([]);
  expect(new Set(ranJobs.map((r) => `${r.tenant} ${r.at}`)).size).toBe(ranJobs.length);
  expect(ranJobs.every((r) => r.retries === 0)).toBe(true);
  expect(ranJobs.length).toBe(log.length);
  // Both processes took part.
  expect(new Set(log.map((r) => r.by)).size).toBe(2);
});

it('never runs two reconciles of one tenant × entity at once: the second defers itself', async () => {
  const cfg = tenants('0 0 1 1 *');
  // The first test's last scheduled fires may still wait in the queue: they are not this test's.
  await db.staging.pool.query(
    `DO $$ BEGIN IF to_regclass('pgboss.job') IS NOT NULL THEN DELETE FROM pgboss.job WHERE name = 'reconcile'; END IF; END $$`,
  );
  const all: RecordedReconcile[] = [];
  const a = await startTestServe(db, cfg, recordingWork('a', all, { reconcileMs: 1_500 }));
  const b = await startTestServe(db, cfg, recordingWork('b', all, { reconcileMs: 1_500 }));
  // This test's runs are the API's (no fire instant).
  const runs = () => all.filter((r) => r.job.scheduledAt === undefined);
  try {
    // Different requests (so the queue does not join them), overlapping entities.
    const r1 = await fetch(`${a.url}/api/tenants/alpha/runs`, { method: 'POST', body: JSON.stringify({}) });
    const r2 = await fetch(`${b.url}/api/tenants/alpha/runs`, {
      method: 'POST',
      body: JSON.stringify({ entities: ['customer', 'invoice'] }),
    });
    const r3 = await fetch(`${b.url}/api/tenants/beta/runs`, { method: 'POST', body: JSON.stringify({}) });
    expect([r1.status, r2.status, r3.status]).toEqual([202, 202, 202]);
    await until('three runs', () => runs().length >= 3, 30_000);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
  const log = runs();
  const alpha = log.filter((r) => r.tenant === 'alpha').sort((x, y) => x.startedAt - y.startedAt);
  expect(alpha.length).toBe(2);
  // customer and invoice are in both: the second started after the first ended.
  expect(alpha[1]!.startedAt).toBeGreaterThanOrEqual(alpha[0]!.endedAt);
  const { rows } = await db.staging.pool.query(
    `SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'reconcile' AND output->>'deferred' = 'true'`,
  );
  expect(rows[0].n).toBeGreaterThanOrEqual(1);
  // beta ran beside alpha's runs (other tenant): no waiting for it.
  const beta = log.find((r) => r.tenant === 'beta')!;
  expect(beta.startedAt).toBeLessThan(alpha[1]!.startedAt);
});

it('hands a job whose process died back to the queue', async () => {
  const queue = await JobQueue.open({ url: db.url, pool: db.staging.pool, logger: quietLogger() });
  try {
    // A process fetched the job and died before finishing it: active, and nobody holds its lock.
    const id = await queue.send('backfill', {
      tenant: 'alpha',
      system: 'erp',
      entity: 'customer',
      ids: ['1'],
    });
    await db.staging.pool.query(
      `UPDATE pgboss.job SET state = 'active', started_on = now() - interval '5 minutes' WHERE id = $1`,
      [id],
    );
    // Another one still runs: its process holds the job's lock.
    const running = await queue.send('backfill', {
      tenant: 'beta',
      system: 'erp',
      entity: 'customer',
      ids: ['2'],
    });
    await db.staging.pool.query(
      `UPDATE pgboss.job SET state = 'active', started_on = now() - interval '5 minutes' WHERE id = $1`,
      [running],
    );
    const alive = new LockSession(db.staging.pool.options, 'test');
    await alive.tryLock({ tenant: 'beta', name: LOCK_NAMES.job(running!) });
    try {
      const reaped = await queue.reapOrphans(60);
      expect(reaped.map((r) => r.id)).toEqual([id]);
      // Back in the queue to run now (no retry delay): it is not the job's failure.
      const back = await queue.job('backfill', id!);
      expect(back?.state).toBe('retry');
      expect(back?.output).toEqual({ handedBack: 'the serve process running this job ended' });
      expect((await queue.job('backfill', running!))?.state).toBe('active');
    } finally {
      await alive.close();
    }
    // Its process gone, the second one is handed back too.
    expect((await queue.reapOrphans(60)).map((r) => r.id)).toEqual([running]);
  } finally {
    await queue.close(1000);
  }
});

it("applies a scheduled run's policy approvals right after it when the tenant says so", async () => {
  const cfg = config(`
tenants:
  auto:
    schedule: "* * * * * *"
    actions: { policy: auto_approve, applyAfterRun: true }
    systems:
      crm: { kind: csv, role: crm, dropDir: /tmp/trueup-serve-test/auto/crm }
      erp: { kind: csv, role: erp, dropDir: /tmp/trueup-serve-test/auto/erp }
  manual:
    schedule: "* * * * * *"
    systems:
      crm: { kind: csv, role: crm, dropDir: /tmp/trueup-serve-test/manual/crm }
      erp: { kind: csv, role: erp, dropDir: /tmp/trueup-serve-test/manual/erp }
`);
  const log: RecordedReconcile[] = [];
  const applies: string[] = [];
  const s = await startTestServe(db, cfg, recordingWork('a', log, { applies }));
  try {
    await until(
      'a run of each tenant and an apply',
      () => applies.length > 0 && log.some((r) => r.tenant === 'manual'),
    );
  } finally {
    await s.stop();
  }
  expect(new Set(applies)).toEqual(new Set(['auto']));
  const { rows } = await db.staging.pool.query(
    `SELECT data->>'tenant' AS tenant, data->>'runId' AS run FROM pgboss.job WHERE name = 'apply'`,
  );
  expect(rows.length).toBeGreaterThan(0);
  expect(rows.every((r) => r.tenant === 'auto' && r.run.startsWith('run-'))).toBe(true);
});

it('joins a run asked for while the same run waits in the queue', async () => {
  // No process works jobs here: the first request waits, the second joins it.
  const s = await startTestServe(db, tenants('0 0 1 1 *'), recordingWork('a', []), {
    parts: { jobs: false, sources: false, scheduler: false },
  });
  try {
    const post = (body: object) =>
      fetch(`${s.url}/api/tenants/gamma/runs`, { method: 'POST', body: JSON.stringify(body) });
    const first = await post({ entities: ['payment'] });
    expect(first.status).toBe(202);
    const again = await post({ entities: ['payment'] });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({
      queued: false,
      reason: 'the same run is already queued for this tenant',
    });
    // Another request of the tenant is another run.
    expect((await post({ entities: ['payment'], full: true })).status).toBe(202);
  } finally {
    await s.stop();
  }
});

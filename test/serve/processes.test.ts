// `trueup serve` as real processes (the CLI bundled from the sources) on one staging database with
// three tenants, one of them with a Postgres CDC source:
//  - two processes and a fast cron: every scheduled run is one job, run once, each its own run;
//  - SIGKILL the process holding the CDC slot: the other takes the slot over within seconds and
//    staging ends equal to the source;
//  - SIGTERM in the middle of a big source transaction: exit 0, and nothing is lost;
//  - SIGTERM during a reconcile: exit 0, the job goes back to the queue and another process runs it.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { replicationNames } from '../../pipeline/connectors/postgres/config.js';
import { claimHolder } from '../../pipeline/connectors/postgres/slot-claim.js';
import { stageGeneratedTenant } from '../../pipeline/generator/stage-generated.js';
import { CronSchedule } from '../../pipeline/serve/cron-schedule.js';
import { LOCK_NAMES, LockSession } from '../../pipeline/serve/lock-session.js';
import { createTestDatabase, serverUrl, type TestDatabase } from '../support/database.js';
import { createSourceDatabase, type SourceDb } from '../support/postgres.js';
import {
  bundledCli,
  http,
  parsePrometheus,
  removeBundledCli,
  type ServeProcess,
  spawnServe,
  until,
} from './support.js';

let db: TestDatabase;
let src: SourceDb;
let dir: string;
let env: Record<string, string>;
const running: ServeProcess[] = [];

const ENTITIES_OFF = `
    entities:
      customer: {}
      product: { enabled: false }
      order: { enabled: false }
      invoice: { enabled: false }
      payment: { enabled: false }
      subscription: { enabled: false }`;

function configYaml(o: { schedule?: string; shutdownSeconds?: number; confirmWaitMs?: number }): string {
  const schedule = o.schedule ? `\n    schedule: "${o.schedule}"` : '';
  const csv = (t: string) => `
      crm: { kind: csv, role: crm, dropDir: ${dir}/${t}/crm }
      erp: { kind: csv, role: erp, dropDir: ${dir}/${t}/erp }`;
  return `dataDir: ${dir}/data
serve:
  pollSeconds: 3600
  metricsCacheSeconds: 0
  shutdownSeconds: ${o.shutdownSeconds ?? 15}
  confirmWaitMs: ${o.confirmWaitMs ?? 10000}
tenants:
  alpha:
    timezone: Europe/Berlin${schedule}
    systems:
      crm: { kind: csv, role: crm, dropDir: ${dir}/alpha/crm }
      erp:
        kind: postgres
        role: erp
        connection: \${env:SOURCE_URL}
        stream: { maxGroupDelayMs: 20, heartbeatSeconds: 0.2, backoffMinMs: 50, backoffMaxMs: 500, claimRetryMs: 100 }
        tables:
          - { table: people, entity: customer, key: [id], fields: { name: name } }${ENTITIES_OFF}
  beta:
    timezone: America/New_York${schedule}
    systems:${csv('beta')}${ENTITIES_OFF}
  gamma:
    timezone: Asia/Kolkata${schedule}
    systems:${csv('gamma')}${ENTITIES_OFF}
`;
}

async function writeConfig(name: string, o: Parameters<typeof configYaml>[0]): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, configYaml(o));
  return file;
}

async function serve(configFile: string): Promise<ServeProcess> {
  const p = await spawnServe(['-c', configFile], env);
  running.push(p);
  await p.url;
  return p;
}

/** SIGTERM, then the exit code (failing after 30 s, the CLI's own limit). */
async function terminate(p: ServeProcess): Promise<number | null> {
  p.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    p.exited,
    new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), 30_000))),
  ]);
  clearTimeout(timer);
  if (code === 'hung') throw new Error(`serve did not stop within 30 s of SIGTERM:\n${p.stderr()}`);
  return code;
}

const slot = () => replicationNames('alpha', 'erp', {}).slot;

async function sourceRows(): Promise<string[]> {
  const { rows } = await src.pool.query(`SELECT id::text || '=' || name AS r FROM people ORDER BY id`);
  return rows.map((r) => r.r);
}
async function stagedRows(): Promise<string[]> {
  const { rows } = await db.staging.pool.query(
    `SELECT source_id || '=' || name AS r FROM staging.customer
      WHERE tenant_id = 'alpha' AND system = 'erp' AND deleted_at IS NULL ORDER BY source_id::int`,
  );
  return rows.map((r) => r.r);
}
const stagingEqualsSource = async () =>
  JSON.stringify(await stagedRows()) === JSON.stringify(await sourceRows());

beforeAll(async () => {
  await bundledCli();
  db = await createTestDatabase('serveproc');
  src = await createSourceDatabase(serverUrl());
  dir = await mkdtemp(join(tmpdir(), 'trueup-serve-proc-'));
  await src.pool.query('CREATE TABLE people (id int PRIMARY KEY, name text)');
  await src.pool.query(`INSERT INTO people SELECT g, 'p' || g FROM generate_series(1, 200) g`);
  env = { TRUEUP_DATABASE_URL: db.url, SOURCE_URL: src.url, TRUEUP_HOME: join(dir, 'home') };
}, 180_000);

afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await Promise.all(running.map((p) => p.exited));
  await removeBundledCli();
  await src?.drop();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('two serve processes run every scheduled job of three tenants exactly once', async () => {
  const file = await writeConfig('fast-cron.yaml', { schedule: '*/3 * * * * *' });
  const [a, b] = await Promise.all([serve(file), serve(file)]);
  const bothUp = Date.now();
  await new Promise((r) => setTimeout(r, 9_000));
  const stopping = Date.now();
  const joined = new Map<string, number>();
  for (const p of [a!, b!]) {
    const m = parsePrometheus((await http(`${await p.url}/metrics`)).text);
    for (const x of m.samples.get('trueup_scheduled_total') ?? [])
      if (x.labels.result === 'joined')
        joined.set(x.labels.tenant!, (joined.get(x.labels.tenant!) ?? 0) + x.value);
  }
  expect(await Promise.all([terminate(a!), terminate(b!)])).toEqual([0, 0]);

  const { rows: jobs } = await db.staging.pool.query(
    `SELECT data->>'tenant' AS tenant, data->>'scheduledAt' AS at, state, output->>'runId' AS run,
            coalesce(output->>'deferred' = 'true', false) AS deferred, output->'next' AS next
       FROM pgboss.job WHERE name = 'reconcile' AND data->>'trigger' = 'schedule'`,
  );
  const { rows: runs } = await db.staging.pool.query(
    `SELECT tenant_id, run_id, status, error FROM control.runs WHERE kind = 'reconcile'`,
  );
  const schedule = new CronSchedule('*/3 * * * * *', 'UTC');
  const expected = schedule.between(bothUp, stopping - 2_000).map((t) => new Date(t).toISOString());
  schedule.dispose();
  expect(expected.length).toBeGreaterThanOrEqual(2);
  for (const t of ['alpha', 'beta', 'gamma']) {
    const mine = jobs.filter((j) => j.tenant === t);
    // Nothing failed or was left running: jobs ran, or wait in the queue for a later run.
    expect(mine.filter((j) => !['completed', 'created', 'retry'].includes(j.state))).toEqual([]);
    // A job that found the tenant's previous run still going deferred itself (a copy runs later).
    const ran = mine.filter((j) => j.state === 'completed' && !j.deferred);
    const waiting = mine.filter((j) => j.state !== 'completed');
    expect(new Set(ran.map((j) => j.at)).size).toBe(ran.length);
    // A fire (or a deferred copy) that found a run of the tenant already queued joined it.
    const coalesced = (joined.get(t) ?? 0) + mine.filter((j) => j.deferred && j.next === null).length;
    const missing = expected.filter((at) => ![...ran, ...waiting].some((j) => j.at === at));
    expect(missing.length).toBeLessThanOrEqual(coalesced);
    // Each job that ran, ran once: its own run, succeeded, and no run without a job. A run still
    // going at SIGTERM past shutdownSeconds was handed back: failed so, its job waits to run again.
    const tenantRuns = runs.filter((r) => r.tenant_id === t);
    const handedBack = tenantRuns.filter((r) => r.status === 'failed' && /handed back/.test(r.error ?? ''));
    const succeeded = tenantRuns.filter((r) => r.status === 'succeeded');
    expect(tenantRuns.filter((r) => !succeeded.includes(r) && !handedBack.includes(r))).toEqual([]);
    expect(handedBack.length).toBeLessThanOrEqual(waiting.length);
    expect(new Set(ran.map((j) => j.run))).toEqual(new Set(succeeded.map((r) => r.run_id)));
    expect(ran.length).toBe(succeeded.length);
  }
  // Staging caught up with the CDC source while they ran.
  expect(await stagingEqualsSource()).toBe(true);
}, 180_000);

it('takes over the CDC slot of a SIGKILLed process within seconds; staging ends equal to the source', async () => {
  const file = await writeConfig('no-cron.yaml', {});
  const procs = await Promise.all([serve(file), serve(file)]);
  const key = { tenant: 'alpha', system: 'erp', slot: slot() };
  let holderPid = 0;
  await until('one process holds the slot', async () => {
    const h = await claimHolder(db.staging.pool, key);
    holderPid = Number(/pid (\d+)/.exec(h?.applicationName ?? '')?.[1] ?? 0);
    return procs.some((p) => p.child.pid === holderPid);
  });
  const holder = procs.find((p) => p.child.pid === holderPid)!;
  const other = procs.find((p) => p !== holder)!;
  await src.pool.query(`INSERT INTO people SELECT g, 'p' || g FROM generate_series(201, 400) g`);
  await src.pool.query(`UPDATE people SET name = name || '!' WHERE id % 7 = 0`);
  holder.child.kill('SIGKILL');
  await holder.exited;
  const killedAt = Date.now();
  await src.pool.query(`INSERT INTO people SELECT g, 'p' || g FROM generate_series(401, 500) g`);
  await src.pool.query(`DELETE FROM people WHERE id % 11 = 0`);
  await until('the other process holds the slot', async () => {
    const h = await claimHolder(db.staging.pool, key);
    return h?.applicationName.includes(`pid ${other.child.pid}`) === true;
  });
  expect(Date.now() - killedAt).toBeLessThan(10_000);
  await until('staging equals the source', stagingEqualsSource, 60_000);
  expect(await terminate(other)).toBe(0);
}, 180_000);

it('SIGTERM in the middle of a big source transaction: exit 0, nothing lost', async () => {
  const file = join(dir, 'no-cron.yaml');
  const a = await serve(file);
  await until(
    'it holds the slot',
    async () =>
      (await claimHolder(db.staging.pool, { tenant: 'alpha', system: 'erp', slot: slot() })) !== undefined,
  );
  await src.pool.query(`INSERT INTO people SELECT g, 'bulk' || g FROM generate_series(1001, 11000) g`);
  // The transaction is being decoded and staged now.
  await new Promise((r) => setTimeout(r, 300));
  const signalled = Date.now();
  expect(await terminate(a)).toBe(0);
  expect(Date.now() - signalled).toBeLessThan(25_000);
  // Whatever it had not committed, the next process reads again from the slot.
  const b = await serve(file);
  await until('staging equals the source', stagingEqualsSource, 60_000);
  expect(await terminate(b)).toBe(0);
}, 180_000);

it('SIGTERM during a reconcile: exit 0, the job goes back to the queue and runs once elsewhere', async () => {
  // A reconcile that waits: delta's CRM stream is "being passed" (its lock held here) and never
  // catches up, so in-flight confirmation waits its 20 s; the process has 1 s to stop.
  const file = join(dir, 'slow-confirm.yaml');
  await writeFile(
    file,
    `${configYaml({ shutdownSeconds: 1, confirmWaitMs: 20_000 })}  delta:
    systems:
      crm: { kind: csv, role: crm, dropDir: ${dir}/delta/crm }
      erp: { kind: csv, role: erp, dropDir: ${dir}/delta/erp }${ENTITIES_OFF}
`,
  );
  await stageGeneratedTenant(
    db.staging.pool,
    { tenant: 'delta', seed: 3, counts: { customer: 200 } },
    { entities: ['customer'] },
  );
  const passing = new LockSession(db.staging.pool.options, 'test');
  await passing.tryLock({ tenant: 'delta', name: LOCK_NAMES.pass('crm') });
  const a = await serve(file);
  const post = await http(`${await a.url}/api/tenants/delta/runs`, { method: 'POST', body: {} });
  expect(post.status).toBe(202);
  const jobId = (post.json as { job: { id: string } }).job.id;
  await until(
    'the run started',
    async () => {
      const { rows } = await db.staging.pool.query(
        `SELECT 1 FROM control.runs WHERE tenant_id = 'delta' AND status = 'running'`,
      );
      return rows.length > 0;
    },
    60_000,
  );
  expect(await terminate(a)).toBe(0);
  const job = async () =>
    (await db.staging.pool.query(`SELECT state, output FROM pgboss.job WHERE id = $1`, [jobId])).rows[0] as {
      state: string;
      output: { handedBack?: string; runId?: string } | null;
    };
  // Handed back, to run again now; its interrupted run is failed, not left running.
  expect(await job()).toMatchObject({
    state: 'retry',
    output: { handedBack: expect.stringContaining('stopped') },
  });
  const interrupted = await db.staging.pool.query(
    `SELECT status, error FROM control.runs WHERE tenant_id = 'delta'`,
  );
  expect(interrupted.rows).toEqual([{ status: 'failed', error: expect.stringContaining('handed back') }]);

  await passing.close();
  const b = await serve(file);
  await until('the job ran again and completed', async () => (await job()).state === 'completed', 60_000);
  expect(await terminate(b)).toBe(0);
  const { rows } = await db.staging.pool.query(
    `SELECT run_id, status FROM control.runs WHERE tenant_id = 'delta' ORDER BY started_at`,
  );
  expect(rows.map((r) => r.status)).toEqual(['failed', 'succeeded']);
  expect((await job()).output?.runId).toBe(rows[1].run_id);
}, 180_000);

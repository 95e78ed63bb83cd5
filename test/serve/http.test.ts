// The HTTP side of an in-process serve running trueup's real work (jobs.ts) on a CSV tenant whose
// data the ground-truth generator staged: /healthz and /readyz answer (and readiness follows the
// migrations), /metrics parses as Prometheus text and its values move as rows are staged, dead-
// lettered and reconciled, the JSON API lists and triggers, and the token is enforced off loopback.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../../pipeline/cli/main.js';
import { ConfigError } from '../../pipeline/config/load-config.js';
import { stageGeneratedTenant } from '../../pipeline/generator/stage-generated.js';
import { trueupWork } from '../../pipeline/serve/jobs.js';
import type { RunningServe } from '../../pipeline/serve/serve.js';
import { checkBinding } from '../../pipeline/serve/serve.js';
import { stageUnit } from '../../staging/stage.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import {
  config,
  http,
  parsePrometheus,
  quietLogger,
  sampleValue,
  serveSettings,
  startTestServe,
  until,
} from './support.js';

let db: TestDatabase;
let dir: string;
let serve: RunningServe;
let work: ReturnType<typeof trueupWork>;

beforeAll(async () => {
  db = await createTestDatabase('servehttp');
  dir = await mkdtemp(join(tmpdir(), 'trueup-serve-http-'));
  const cfg = config(`
dataDir: ${dir}/data
tenants:
  acme:
    timezone: Europe/Berlin
    schedule: "0 3 * * *"
    systems:
      crm: { kind: csv, role: crm, dropDir: ${dir}/crm }
      erp: { kind: csv, role: erp, dropDir: ${dir}/erp }
    entities:
      customer: {}
      product: { enabled: false }
      order: { enabled: false }
      invoice: { enabled: false }
      payment: { enabled: false }
      subscription: { enabled: false }
`);
  work = trueupWork({
    staging: db.staging,
    stagingUrl: db.url,
    dataDir: join(dir, 'data'),
    logger: quietLogger(),
    workers: { threads: 1, jobTimeoutMs: 120_000 },
  });
  serve = await startTestServe(db, cfg, work, { serve: serveSettings({ pollSeconds: 3600 }) });
});

afterAll(async () => {
  await serve?.stop();
  await work?.close();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function scrape() {
  const res = await http(`${serve.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return parsePrometheus(res.text);
}

it('answers /healthz and /readyz, and readiness follows the migrations', async () => {
  expect(await http(`${serve.url}/healthz`)).toMatchObject({ status: 200, json: { status: 'ok' } });
  expect(await http(`${serve.url}/readyz`)).toMatchObject({
    status: 200,
    json: { ready: true, checks: { staging: 'ok', migrations: 'ok' } },
  });
  const { rows } = await db.staging.pool.query(
    'DELETE FROM trueup_meta.migrations WHERE id = (SELECT max(id) FROM trueup_meta.migrations) RETURNING *',
  );
  try {
    const r = await http(`${serve.url}/readyz`);
    expect(r.status).toBe(503);
    expect((r.json as { checks: { migrations: string } }).checks.migrations).toMatch(
      /^pending: \d{4}_\w+ \(run `trueup migrate`\)$/,
    );
  } finally {
    await db.staging.pool.query(
      'INSERT INTO trueup_meta.migrations (id, name, checksum, applied_at) VALUES ($1, $2, $3, $4)',
      [rows[0].id, rows[0].name, rows[0].checksum, rows[0].applied_at],
    );
  }
  expect((await http(`${serve.url}/readyz`)).status).toBe(200);
  expect((await http(`${serve.url}/nope`)).status).toBe(404);
  expect((await http(`${serve.url}/metrics`, { method: 'POST' })).status).toBe(405);
});

it('exposes Prometheus metrics whose values move as rows are staged, dead-lettered and reconciled', async () => {
  const before = await scrape();
  expect(before.types.get('trueup_staging_rows')).toBe('gauge');
  expect(before.types.get('trueup_rows_staged_total')).toBe('counter');
  expect(before.types.get('trueup_job_duration_seconds')).toBe('histogram');
  expect(sampleValue(before, 'trueup_staging_rows', { tenant: 'acme' })).toBeUndefined();
  // The CSV sources ran a pass each (empty drop folders): this process counts its passes.
  await until('both sources passed once', async () => {
    const m = await scrape();
    return ['crm', 'erp'].every(
      (s) => (sampleValue(m, 'trueup_passes_total', { tenant: 'acme', system: s }) ?? 0) >= 1,
    );
  });

  const staged = await stageGeneratedTenant(
    db.staging.pool,
    { tenant: 'acme', seed: 7, counts: { customer: 300 } },
    { entities: ['customer'] },
  );
  await stageUnit(db.staging.pool, {
    tenant: 'acme',
    system: 'erp',
    batches: [
      {
        entity: 'customer',
        changes: [{ sourceId: 'bad-1', version: 1n, op: 'upsert', fields: { credit_limit: 'lots' } }],
      },
    ],
  });
  const after = await scrape();
  const rows = ['crm', 'erp'].map(
    (s) => sampleValue(after, 'trueup_staging_rows', { tenant: 'acme', system: s, entity: 'customer' }) ?? 0,
  );
  expect(rows[0]! + rows[1]!).toBeGreaterThan(0);
  expect(rows[0]! + rows[1]!).toBeLessThanOrEqual(staged.rows);
  expect(
    sampleValue(after, 'trueup_dead_letters_open', { tenant: 'acme', system: 'erp', entity: 'customer' }),
  ).toBe(1);
  expect(
    sampleValue(after, 'trueup_stream_rows_total', { tenant: 'acme', stream: 'generator' }),
  ).toBeGreaterThan(0);

  // A run triggered through the API, run by this process on the real reconcile.
  const post = await http(`${serve.url}/api/tenants/acme/runs`, { method: 'POST', body: {} });
  expect(post.status).toBe(202);
  const job = (post.json as { job: { kind: string; id: string } }).job;
  await until(
    'the run finished',
    async () => {
      const j = await http(`${serve.url}/api/jobs/${job.kind}/${job.id}`);
      return (j.json as { job?: { state: string } }).job?.state === 'completed';
    },
    60_000,
  );
  const ran = await scrape();
  expect(sampleValue(ran, 'trueup_runs', { tenant: 'acme', kind: 'reconcile', status: 'succeeded' })).toBe(1);
  expect(sampleValue(ran, 'trueup_run_last_success_timestamp_seconds', { tenant: 'acme' })).toBeGreaterThan(
    Date.now() / 1000 - 120,
  );
  expect(
    sampleValue(ran, 'trueup_discrepancies_open', { tenant: 'acme', entity: 'customer' }),
  ).toBeGreaterThan(0);
  expect(
    sampleValue(ran, 'trueup_job_duration_seconds_count', { kind: 'reconcile', outcome: 'succeeded' }),
  ).toBe(1);
  expect(sampleValue(ran, 'trueup_jobs_run_total', { kind: 'reconcile', outcome: 'succeeded' })).toBe(1);
  expect(sampleValue(ran, 'trueup_jobs', { kind: 'reconcile', state: 'completed' })).toBe(1);
  expect(
    sampleValue(ran, 'trueup_serve_source_state', { tenant: 'acme', system: 'crm', state: 'polling' }),
  ).toBe(1);

  // The JSON API shows the run and its discrepancies.
  const runs = (await http(`${serve.url}/api/tenants/acme/runs`)).json as {
    runs: { status: string; runId: string }[];
  };
  expect(runs.runs.map((r) => r.status)).toEqual(['succeeded']);
  const disc = (await http(`${serve.url}/api/tenants/acme/discrepancies?limit=5`)).json as {
    discrepancies: { entity: string }[];
  };
  expect(disc.discrepancies.length).toBeGreaterThan(0);
  expect(disc.discrepancies.every((d) => d.entity === 'customer')).toBe(true);
  const actions = await http(`${serve.url}/api/tenants/acme/actions?status=proposed`);
  expect(actions.status).toBe(200);
});

it('queues a backfill, which re-reads the given ids through the connector', async () => {
  const post = await http(`${serve.url}/api/tenants/acme/backfills`, {
    method: 'POST',
    body: { system: 'crm', entity: 'customer', ids: ['c-1', 'c-2'] },
  });
  expect(post.status).toBe(202);
  const job = (post.json as { job: { kind: string; id: string } }).job;
  expect(job.kind).toBe('backfill');
  await until('the backfill finished', async () => {
    const j = (await http(`${serve.url}/api/jobs/backfill/${job.id}`)).json as { job?: { state: string } };
    return j.job?.state === 'completed';
  });
});

it('checks what the API is given', async () => {
  expect((await http(`${serve.url}/api/tenants/nobody/runs`)).status).toBe(404);
  const bad = await http(`${serve.url}/api/tenants/acme/runs`, {
    method: 'POST',
    body: { entities: ['nope'] },
  });
  expect(bad.status).toBe(400);
  expect((bad.json as { error: string }).error).toMatch(/^entities\.0: /);
  expect((await http(`${serve.url}/api/tenants/acme/discrepancies?status=closed`)).status).toBe(400);
  const backfill = await http(`${serve.url}/api/tenants/acme/backfills`, {
    method: 'POST',
    body: {
      system: 'erp',
      entity: 'customer',
      window: { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' },
    },
  });
  expect(backfill.status).toBe(400);
  expect((backfill.json as { error: string }).error).toContain('window.from must be before window.to');
  const unknownSystem = await http(`${serve.url}/api/tenants/acme/backfills`, {
    method: 'POST',
    body: { system: 'ledger', entity: 'customer', ids: ['1'] },
  });
  expect(unknownSystem).toMatchObject({ status: 400, json: { error: 'tenant acme has no system "ledger"' } });
  // A whole table or a predicate is a postgres re-read: refused for a CSV system, nothing queued.
  const whole = await http(`${serve.url}/api/tenants/acme/backfills`, {
    method: 'POST',
    body: { system: 'crm', entity: 'customer', all: true, where: 'true' },
  });
  expect(whole.status).toBe(400);
  expect((whole.json as { error: string }).error).toMatch(
    /apply to postgres systems only \(this one is csv\)/,
  );
  expect((await http(`${serve.url}/api/jobs/reconcile/not-an-id`)).status).toBe(404);
});

it('requires the bearer token off loopback (and refuses to listen there without one)', async () => {
  expect(() => checkBinding('0.0.0.0', undefined)).toThrow(/without a token/);
  expect(() => checkBinding('127.0.0.1', undefined)).not.toThrow();
  expect(() => checkBinding('::1', undefined)).not.toThrow();
  // A literal token in the config is refused: it must be a secret reference.
  expect(() => config('serve: { token: hunter2 }\n')).toThrow(ConfigError);
  expect(config('serve: { token: "${env:SERVE_TOKEN}" }\n', { SERVE_TOKEN: 'from-env' }).serve?.token).toBe(
    'from-env',
  );
  // `trueup serve --host 0.0.0.0` without a token: a usage error (exit 2), nothing started.
  expect(await runCli(['serve', '--host', '0.0.0.0'])).toBe(2);

  const open = await startTestServe(db, config('tenants: {}\n'), work, {
    serve: serveSettings({ host: '0.0.0.0' }),
    token: 's3cret-token',
  });
  try {
    const at = `http://127.0.0.1:${open.port}`;
    expect((await http(`${at}/healthz`)).status).toBe(200);
    expect((await http(`${at}/readyz`)).status).toBe(200);
    const denied = await http(`${at}/metrics`);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toBe('Bearer realm="trueup"');
    expect((await http(`${at}/api/status`, { token: 's3cret-tokeN' })).status).toBe(401);
    expect((await http(`${at}/metrics`, { token: 's3cret-token' })).status).toBe(200);
    expect((await http(`${at}/api/status`, { token: 's3cret-token' })).status).toBe(200);
  } finally {
    await open.stop();
  }
});

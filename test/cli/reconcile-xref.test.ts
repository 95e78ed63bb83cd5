// `trueup reconcile` and `trueup xref` end to end on a staged generated tenant.
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createCliContext } from '../../pipeline/cli/cli-context.js';
import { runCli } from '../../pipeline/cli/main.js';
import { generatorTenantConfig } from '../../pipeline/generator/ground-truth.js';
import { stageGeneratedTenant } from '../../pipeline/generator/stage-generated.js';
import { dataDir, removeDataDirs } from '../reconcilers/helpers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
let dir: string;
let configFile: string;
const counts = { customer: 60, product: 20, order: 40, invoice: 40, payment: 20, subscription: 20 };

beforeAll(async () => {
  db = await createTestDatabase('recon_cli');
  dir = await dataDir();
  await stageGeneratedTenant(db.staging.pool, { tenant: 'acme', seed: 3, counts });
  await stageGeneratedTenant(db.staging.pool, {
    tenant: 'globex',
    seed: 4,
    counts,
    rates: { field_mismatch: 0, missing_in_crm: 0, missing_in_erp: 0, duplicate_match: 0, deleted_in_one: 0 },
  });
  configFile = join(dir, 'trueup.yaml');
  await writeFile(
    configFile,
    stringify({
      dataDir: dir,
      tenants: {
        acme: generatorTenantConfig({ tenant: 'acme' }),
        globex: generatorTenantConfig({ tenant: 'globex' }),
        broken: { systems: { only: { kind: 'csv', role: 'crm', dropDir: '/tmp/x' } } },
      },
    }),
  );
});
afterAll(async () => {
  await removeDataDirs();
  await db?.drop();
});

async function cli(args: string[]) {
  let out = '';
  const ctx = createCliContext({ TRUEUP_DATABASE_URL: db.url }, (t) => {
    out += t;
  });
  process.exitCode = undefined;
  const code = await runCli(['-c', configFile, '--log-level', 'error', ...args], ctx);
  process.exitCode = undefined;
  return { code, out };
}

it('reconciles, writes summary.json and honours --fail-on', async () => {
  const r = await cli(['reconcile', '--tenant', 'acme', '--fail-on', 'any', '--confirm-wait', '0']);
  expect(r.code).toBe(1);
  expect(r.out).toMatch(/field_mismatch|field/);
  const path = /summary: (.*summary\.json)/.exec(r.out)?.[1];
  expect(path && existsSync(path)).toBe(true);
  const summary = JSON.parse(readFileSync(path!, 'utf8'));
  expect(summary.totals.discrepancies).toBeGreaterThan(0);
  expect(Object.keys(summary.countsByEntity)).toHaveLength(6);
  const clean = await cli([
    'reconcile',
    '--tenant',
    'globex',
    '--fail-on',
    'material',
    '--confirm-wait',
    '0',
  ]);
  expect(clean.code).toBe(0);
});

it('--all-tenants reports a failing tenant without stopping the others', async () => {
  const r = await cli(['reconcile', '--all-tenants', '--confirm-wait', '0']);
  expect(r.code).toBe(1);
  expect(r.out).toMatch(/FAILED broken/);
  expect(r.out).toMatch(/acme: run .* succeeded/);
  expect(r.out).toMatch(/globex: run .* succeeded/);
});

it('links and unlinks records by hand', async () => {
  // C-x and E-x were never staged: linking them needs --allow-missing.
  const link = await cli([
    'xref',
    'link',
    '--tenant',
    'acme',
    '--entity',
    'customer',
    '--crm',
    'C-x',
    '--erp',
    'E-x',
    '--allow-missing',
  ]);
  expect(link.code).toBe(0);
  const un = await cli([
    'xref',
    'unlink',
    '--tenant',
    'acme',
    '--entity',
    'customer',
    '--crm',
    'C-x',
    '--erp',
    'E-x',
  ]);
  expect(un.code).toBe(0);
  expect((await cli(['reconcile', '--tenant', 'nope'])).code).toBe(2);
});

it('lists discrepancies and accepts them (who and why, audited, kept while they persist)', async () => {
  await cli(['reconcile', '--tenant', 'acme', '--confirm-wait', '0']);
  const listed = await cli(['discrepancies', 'list', '--tenant', 'acme', '--entity', 'customer', '--json']);
  expect(listed.code).toBe(0);
  const open = JSON.parse(listed.out) as { id: string; status: string; material: boolean }[];
  expect(open.length).toBeGreaterThan(2);
  expect(open.every((d) => d.status === 'open')).toBe(true);
  const ids = open.slice(0, 2).map((d) => d.id);

  const bad = await cli([
    'discrepancies',
    'accept',
    '--tenant',
    'acme',
    '--by',
    'alice',
    '--reason',
    'x',
    'abc',
  ]);
  expect(bad.code).toBe(2);
  const unknown = await cli([
    'discrepancies',
    'accept',
    '--tenant',
    'acme',
    '--by',
    'alice',
    '--reason',
    'known',
    ids[0]!,
    '999999999',
  ]);
  expect(unknown.code).toBe(1);
  expect(unknown.out).toMatch(/no discrepancy 999999999 — nothing was accepted/);

  const ok = await cli([
    'discrepancies',
    'accept',
    '--tenant',
    'acme',
    '--by',
    'alice',
    '--reason',
    'legacy data, agreed with finance',
    ...ids,
  ]);
  expect(ok.code).toBe(0);
  expect(ok.out).toMatch(/accepted 2 discrepancies of acme \(by alice\)/);
  const audit = await db.staging.pool.query(
    `SELECT actor, action, subject, detail FROM control.audit WHERE tenant_id = 'acme' AND action = 'discrepancy.accept'`,
  );
  expect(audit.rows.map((r) => r.subject).sort()).toEqual(ids.map((id) => `discrepancy:${id}`).sort());
  expect(audit.rows[0]).toMatchObject({
    actor: 'alice',
    detail: { reason: 'legacy data, agreed with finance', previousStatus: 'open' },
  });

  // Seen again by the next run: still accepted, runs_open counts on.
  await cli(['reconcile', '--tenant', 'acme', '--full', '--confirm-wait', '0']);
  const accepted = JSON.parse(
    (await cli(['discrepancies', 'list', '--tenant', 'acme', '--status', 'accepted', '--json'])).out,
  ) as { id: string; acceptedBy: string; acceptedReason: string; runsOpen: number }[];
  expect(accepted.map((d) => d.id).sort()).toEqual([...ids].sort());
  expect(accepted[0]).toMatchObject({
    acceptedBy: 'alice',
    acceptedReason: 'legacy data, agreed with finance',
  });
  expect(accepted[0]!.runsOpen).toBeGreaterThanOrEqual(2);
  const table = await cli(['discrepancies', 'list', '--tenant', 'acme', '--status', 'accepted']);
  expect(table.out).toMatch(/alice: legacy data/);
  expect((await cli(['discrepancies', 'list', '--tenant', 'acme', '--status', 'gone'])).code).toBe(2);
});

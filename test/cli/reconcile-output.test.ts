// CLI behaviour the README promises: `reconcile --json` stays parseable JSON when a tenant fails,
// --fail-on material|any with accepted discrepancies, summary.json content, exit 2 for bad
// tenant ids and discrepancy ids, and table cells that cannot drive the terminal.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { formatTable } from '../../pipeline/cli/format-table.js';
import { generatorTenantConfig } from '../../pipeline/generator/ground-truth.js';
import { stageGeneratedTenant } from '../../pipeline/generator/stage-generated.js';
import { runCliCaptured } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
let dir: string;
let configFile: string;
const counts = { customer: 0, product: 0, order: 0, invoice: 60, payment: 0, subscription: 0 };

beforeAll(async () => {
  db = await createTestDatabase('cli_review');
  dir = await mkdtemp(join(tmpdir(), 'trueup-cli-review-'));
  await stageGeneratedTenant(
    db.staging.pool,
    { tenant: 'acme', seed: 11, counts },
    { entities: ['invoice'] },
  );
  configFile = join(dir, 'trueup.yaml');
  await writeFile(
    configFile,
    stringify({
      dataDir: dir,
      tenants: {
        acme: generatorTenantConfig({ tenant: 'acme' }),
        broken: { systems: { only: { kind: 'csv', role: 'crm', dropDir: '/tmp/x' } } },
      },
    }),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await db?.drop();
});

const cli = (args: string[]) => runCliCaptured(args, { databaseUrl: db.url, config: configFile });

const reconcileArgs = ['reconcile', '--entity', 'invoice', '--confirm-wait', '0'];

describe('trueup reconcile', () => {
  it('--json prints parseable JSON even when a tenant fails; the failure is reported and exits 1', async () => {
    const r = await cli([...reconcileArgs, '--all-tenants', '--json']);
    expect(r.code).toBe(1);
    const summaries = JSON.parse(r.out) as { tenant: string; status: string }[];
    expect(summaries.map((s) => [s.tenant, s.status])).toEqual([['acme', 'succeeded']]);
    expect(r.err).toMatch(/FAILED broken: .*role crm and one with role erp/);
  });

  it('summary.json has counts by class and entity, money variance, material count, run id and positions', async () => {
    const r = await cli([...reconcileArgs, '--tenant', 'acme', '--full', '--json']);
    const [printed] = JSON.parse(r.out) as { outputDir: string; runId: string }[];
    const summary = JSON.parse(readFileSync(join(printed!.outputDir, 'summary.json'), 'utf8'));
    expect(summary.runId).toBe(printed!.runId);
    expect(printed!.outputDir).toBe(join(dir, 'runs', 'acme', printed!.runId));
    expect(summary.countsByEntity.invoice).toEqual(summary.countsByClass);
    const total = Object.values(summary.countsByClass as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(total).toBe(summary.totals.discrepancies);
    expect(summary.totals.material).toBeGreaterThan(0);
    expect(Object.keys(summary.moneyVariance).length).toBeGreaterThan(0);
    for (const v of Object.values(summary.moneyVariance)) expect(v).toMatch(/^-?\d+(\.\d+)?$/);
    expect(summary.sourcePositions).toEqual(
      expect.arrayContaining([expect.objectContaining({ system: 'crm', stream: 'generator' })]),
    );
  });

  it('--fail-on material passes once every material discrepancy is accepted; --fail-on any still fails', async () => {
    expect((await cli([...reconcileArgs, '--tenant', 'acme', '--fail-on', 'material'])).code).toBe(1);
    const material = JSON.parse(
      (await cli(['discrepancies', 'list', '--tenant', 'acme', '--material', '--limit', '1000', '--json']))
        .out,
    ) as { id: string }[];
    expect(material.length).toBeGreaterThan(0);
    const ok = await cli([
      'discrepancies',
      'accept',
      '--tenant',
      'acme',
      '--by',
      'alice',
      '--reason',
      'known',
      ...material.map((d) => d.id),
    ]);
    expect(ok.code, ok.out).toBe(0);
    expect((await cli([...reconcileArgs, '--tenant', 'acme', '--fail-on', 'material'])).code).toBe(0);
    expect((await cli([...reconcileArgs, '--tenant', 'acme', '--fail-on', 'any'])).code).toBe(1);
  });
});

describe('usage errors exit 2', () => {
  it('a malformed tenant id is a usage error, not a runtime failure', async () => {
    for (const args of [
      ['discrepancies', 'list', '--tenant', '../etc'],
      ['discrepancies', 'accept', '--tenant', "a'; drop", '--by', 'a', '--reason', 'r', '1'],
    ]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
    }
  });

  it('a discrepancy id beyond bigint is a usage error, not a database error', async () => {
    const r = await cli([
      'discrepancies',
      'accept',
      '--tenant',
      'acme',
      '--by',
      'a',
      '--reason',
      'r',
      '9999999999999999999',
    ]);
    expect(r.code).toBe(2);
  });
});

describe('formatTable', () => {
  it('shows control characters of source data escaped, so a value cannot move the cursor or break rows', () => {
    const text = formatTable(['a', 'b'], [['x\u001b[2J\u001b[1;1Hfake', 'line\nbreak\tand\rcr\u009b']]);
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(text.split('\n')).toHaveLength(3);
    expect(text).toContain('\\u001b[2J');
  });
});

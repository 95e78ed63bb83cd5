// `trueup sync --once` runs every kind of source of a tenant through the one command: here a
// Salesforce sandbox (API) and a CSV drop folder side by side; a broken source fails alone.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../pipeline/connectors/contract.js';
import { startSalesforceSandbox } from '../../pipeline/connectors/salesforce/sandbox-start.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../dist/pipeline/cli/bin.js');

let t: TestDatabase;
let sandbox: RunningSandbox;
let dir: string;

beforeAll(async () => {
  t = await createTestDatabase('synccli');
  sandbox = await startSalesforceSandbox({
    port: 0,
    host: '127.0.0.1',
    seed: 3,
    records: 40,
    token: 'sandbox-token-1',
  });
  dir = await mkdtemp(join(tmpdir(), 'trueup-sync-'));
  await mkdir(join(dir, 'drops', 'acme', 'customer'), { recursive: true });
  await writeFile(
    join(dir, 'drops', 'acme', 'customer', 'export.csv'),
    'id,name,credit_limit,currency\nK1,Acme GmbH,1000.00,EUR\nK2,Beta AG,not-a-number,EUR\nK3,Gamma KG,20.50,EUR\n',
  );
  await writeFile(
    join(dir, 'trueup.yaml'),
    `tenants:
  acme:
    # One of the three CSV rows is bad on purpose: above the default 1 %, which would exit 1.
    sync: { maxDeadLetterShare: 0.5 }
    systems:
      crm:
        kind: salesforce
        role: crm
        baseUrl: ${sandbox.url}
        accessToken: \${env:SF_TOKEN}
        limits: { maxRetries: 1 }
        bulk: { pollMinMs: 20, pollMaxMs: 100, lagSeconds: 0 }
      erp:
        kind: csv
        role: erp
        dropDir: ${join(dir, 'drops', '{tenant}')}
  other:
    systems:
      crm:
        kind: salesforce
        role: crm
        baseUrl: http://127.0.0.1:9
        accessToken: \${env:SF_TOKEN}
        limits: { maxRetries: 0, timeoutMs: 2000 }
`,
  );
});

afterAll(async () => {
  await sandbox?.close();
  await t?.drop();
});

async function trueup(args: string[]) {
  const env = { ...process.env, TRUEUP_DATABASE_URL: t.url, SF_TOKEN: 'sandbox-token-1' };
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args, '-c', join(dir, 'trueup.yaml')], {
      env,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('trueup sync', () => {
  it('stages API and CSV sources of a tenant in one --once run and reports each', async () => {
    const res = await trueup(['sync', '--tenant', 'acme', '--once']);
    expect(res.stdout).toMatch(/acme\/crm \(salesforce\): completed, \d+ streams, \d+ received/);
    expect(res.stdout).toMatch(
      /acme\/erp \(csv\): completed, 1 stream, 3 received, 2 staged, 1 dead-lettered/,
    );
    expect(res.code, res.stderr).toBe(0);
    const counts = await t.staging.pool.query(
      `SELECT system, count(*)::int AS n FROM staging.customer WHERE tenant_id = 'acme' GROUP BY system ORDER BY system`,
    );
    expect(counts.rows).toEqual([
      { system: 'crm', n: 40 },
      { system: 'erp', n: 2 },
    ]);
    // A second pass is incremental and stages nothing new.
    const again = await trueup(['sync', '--tenant', 'acme', '--once']);
    expect(again.stdout).toMatch(/acme\/erp \(csv\): completed, 1 stream, 0 received/);
  });

  it('fails a source that cannot be reached, with exit 1 and the reason', async () => {
    const res = await trueup(['sync', '--tenant', 'other', '--once']);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/other\/crm \(salesforce\): failed/);
  });

  it('names an unknown system with exit 2', async () => {
    const res = await trueup(['sync', '--tenant', 'acme', '--system', 'nope', '--once']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('tenant acme has no system named "nope"');
  });
});

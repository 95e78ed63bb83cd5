// Candidate matches through the CLI (issue 18): a record missing on one side whose look-alike on
// the other side matched nothing is listed with its candidates (`discrepancies list` / `show`),
// `xref link --from-candidate` links the pair, and the next reconcile matches them.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createCliContext } from '../../pipeline/cli/cli-context.js';
import { runCli } from '../../pipeline/cli/main.js';
import { generatorTenantConfig } from '../../pipeline/generator/ground-truth.js';
import { stageGeneratedTenant } from '../../pipeline/generator/stage-generated.js';
import { stageUnit } from '../../staging/stage.js';
import { dataDir, removeDataDirs } from '../reconcilers/helpers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
let configFile: string;
const NO_CASES = {
  field_mismatch: 0,
  missing_in_crm: 0,
  missing_in_erp: 0,
  duplicate_match: 0,
  deleted_in_one: 0,
};

beforeAll(async () => {
  db = await createTestDatabase('cand_cli');
  const dir = await dataDir();
  await stageGeneratedTenant(db.staging.pool, {
    tenant: 'acme',
    seed: 5,
    counts: { customer: 20 },
    rates: NO_CASES,
  });
  // The same company on both sides under different emails and tax ids: no key matches them, the
  // name makes them candidates of each other.
  for (const [system, sourceId, email, tax] of [
    ['crm', 'C-look', 'ap@lookalike.example', null],
    ['erp', 'E-look', 'billing@lookalike.example', 'DE999'],
  ] as const)
    await stageUnit(db.staging.pool, {
      tenant: 'acme',
      system,
      batches: [
        {
          entity: 'customer',
          changes: [
            {
              sourceId,
              version: 1n,
              op: 'upsert',
              fields: { name: 'Lookalike Trading GmbH', email, tax_id: tax, currency: 'EUR' },
            },
          ],
        },
      ],
    });
  configFile = join(dir, 'trueup.yaml');
  await writeFile(
    configFile,
    stringify({ dataDir: dir, tenants: { acme: generatorTenantConfig({ tenant: 'acme' }) } }),
  );
});
afterAll(async () => {
  await removeDataDirs();
  await db?.drop();
});

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const ctx = createCliContext(
    { TRUEUP_DATABASE_URL: db.url },
    (t) => {
      out += t;
    },
    (t) => {
      err += t;
    },
  );
  process.exitCode = undefined;
  const code = await runCli(['-c', configFile, '--log-level', 'error', ...args], ctx);
  process.exitCode = undefined;
  return { code, out, err };
}

interface Listed {
  id: string;
  class: string;
  crmId: string | null;
  erpId: string | null;
  candidates: string[];
}

const missing = async () =>
  (JSON.parse((await cli(['discrepancies', 'list', '--tenant', 'acme', '--json'])).out) as Listed[]).filter(
    (d) => d.class.startsWith('missing_in_'),
  );

it('shows candidate matches and links one from the discrepancy', async () => {
  expect((await cli(['reconcile', '--tenant', 'acme', '--confirm-wait', '0'])).code).toBe(0);
  const before = await missing();
  const d = before.find((x) => x.crmId === 'C-look');
  expect(d).toMatchObject({ class: 'missing_in_erp', candidates: ['E-look'] });
  expect(before.find((x) => x.erpId === 'E-look')?.candidates).toEqual(['C-look']);

  const table = await cli(['discrepancies', 'list', '--tenant', 'acme']);
  expect(table.out).toMatch(/candidates/);
  expect(table.out).toMatch(/E-look/);
  const shown = await cli(['discrepancies', 'show', '--tenant', 'acme', d!.id]);
  expect(shown.code).toBe(0);
  expect(shown.out).toMatch(/class\s+missing_in_erp/);
  expect(shown.out).toMatch(/candidates .*\n {2}E-look/);
  expect(shown.out).toContain(`trueup xref link --tenant acme --from-candidate ${d!.id} --candidate E-look`);
  expect((await cli(['discrepancies', 'show', '--tenant', 'acme', '987654'])).code).toBe(1);

  // A candidate that is not one, and a discrepancy that has none, are refused.
  const wrong = await cli([
    'xref',
    'link',
    '--tenant',
    'acme',
    '--from-candidate',
    d!.id,
    '--candidate',
    'E-1',
  ]);
  expect(wrong.code).toBe(2);
  expect(wrong.out + wrong.err).toMatch(/E-1 is not a candidate of discrepancy/);

  const linked = await cli(['xref', 'link', '--tenant', 'acme', '--from-candidate', d!.id, '--by', 'ops']);
  expect(linked.code, linked.err).toBe(0);
  expect(linked.out).toMatch(/linked crm C-look ↔ erp E-look \(customer\)/);

  expect((await cli(['reconcile', '--tenant', 'acme', '--confirm-wait', '0'])).code).toBe(0);
  const after = await missing();
  expect(after.some((x) => x.crmId === 'C-look' || x.erpId === 'E-look')).toBe(false);
});

// Issues 12 and 18 end to end on CSV drops, through the CLI: a bad CRM mapping dead-letters 30 %
// of the customers; reconcile reports their counterparts unverifiable (never missing); the mapping
// is fixed in trueup.yaml and `trueup dlq replay` maps the stored rows again (no file re-read),
// and the next reconcile gives ordinary results. Then `trueup remap` applies a changed mapping to
// the staged rows (only the rows whose values change are rewritten) and reconcile sees it.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDeadLetters } from '../../staging/control/dead-letters.js';
import { dataDir, openKeys, removeDataDirs } from '../reconcilers/helpers.js';
import { runCliCaptured } from '../support/cli.js';
import { useTestDatabase } from '../support/database.js';

const db = useTestDatabase('remapcsv');
const T = 'rc';
let dir: string;
let configFile: string;
const cli = (args: string[]) => runCliCaptured(args, { databaseUrl: db.url, config: configFile });

const N = 20;
const bad = (i: number) => i % 10 < 3; // 30 %
const firma = (i: number) => (i === 4 || i === 5 ? `Renamed ${i}` : `Customer ${i}`);

async function writeConfig(crmColumns: Record<string, string>): Promise<void> {
  const cols = Object.entries(crmColumns)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  await writeFile(
    configFile,
    `dataDir: ${dir}
tenants:
  ${T}:
    systems:
      crm:
        kind: csv
        role: crm
        dropDir: ${join(dir, 'crm')}
        entities:
          customer: { columns: { ${cols} } }
      erp: { kind: csv, role: erp, dropDir: ${join(dir, 'erp')} }
`,
  );
}

beforeAll(async () => {
  dir = await dataDir();
  configFile = join(dir, 'trueup.yaml');
  await mkdir(join(dir, 'crm', 'customer'), { recursive: true });
  await mkdir(join(dir, 'erp', 'customer'), { recursive: true });
  const ids = Array.from({ length: N }, (_v, i) => i);
  // The CRM export: limit_old is garbage for 30 % of the rows, Kreditlimit is right for all.
  await writeFile(
    join(dir, 'crm', 'customer', 'export.csv'),
    `id,name,Firma,email,limit_old,Kreditlimit\n${ids
      .map((i) => `C${i},Customer ${i},${firma(i)},c${i}@x.example,${bad(i) ? 'n/a' : `${i}00.00`},${i}00.00`)
      .join('\n')}\n`,
  );
  await writeFile(
    join(dir, 'erp', 'customer', 'export.csv'),
    `id,name,email,credit_limit,crm_ref\n${ids
      .map((i) => `E${i},Customer ${i},c${i}@x.example,${i}00.00,C${i}`)
      .join('\n')}\n`,
  );
  await writeConfig({ credit_limit: 'limit_old' });
});
afterAll(async () => {
  await removeDataDirs();
});

describe('a bad mapping fixed, replayed and remapped', () => {
  it('dead-letters 30 %, reconciles them as unverifiable, and after fix + dlq replay gives ordinary results', async () => {
    const sync = await cli(['sync', '--tenant', T, '--once']);
    expect(sync.out).toMatch(/customer: 20 read, 14 staged, 0 tombstones, 6 dead-lettered this run/);
    const letters = await listDeadLetters(db.staging.db, { tenant: T });
    expect(letters).toHaveLength(6);
    // The row letter keeps what a re-mapping needs.
    expect(letters[0]!.record).toMatchObject({
      raw: { id: 'C0', limit_old: 'n/a' },
      header: ['id', 'name', 'Firma', 'email', 'limit_old', 'Kreditlimit'],
      fileVersion: expect.stringMatching(/^\d+$/),
    });

    const first = await cli(['reconcile', '--tenant', T, '--confirm-wait', '0']);
    expect(first.err).toBe('');
    const keys = await openKeys(db, T);
    expect(keys.filter((k) => / unverifiable /.test(k))).toHaveLength(6);
    expect(keys.filter((k) => / missing_in_/.test(k))).toEqual([]);

    // Replaying with the mapping still broken: every letter still fails, with today's reason.
    let replay = await cli(['dlq', 'replay', '--tenant', T]);
    expect(replay.code).toBe(1);
    expect(replay.out).toMatch(/^replayed 0, still failing 6/);
    expect(replay.out).toMatch(/still failing: .*credit_limit/);

    // The mapping is fixed in the config; the stored rows are mapped again, no file read.
    await writeConfig({ credit_limit: 'Kreditlimit' });
    replay = await cli(['dlq', 'replay', '--tenant', T]);
    expect(replay.out).toMatch(/^replayed 6, still failing 0 \(6 mapped again with the current config\)/);
    expect(replay.code).toBe(0);
    const { rows } = await db.staging.pool.query<{ n: number; limits: string[] }>(
      `SELECT count(*)::int AS n, array_agg(credit_limit::text ORDER BY source_id) FILTER (WHERE source_id IN ('C0', 'C1')) AS limits
         FROM staging.customer WHERE tenant_id = $1 AND system = 'crm' AND deleted_at IS NULL`,
      [T],
    );
    expect(rows[0]).toEqual({ n: 20, limits: ['0', '100'] });

    await cli(['reconcile', '--tenant', T, '--confirm-wait', '0']);
    expect(await openKeys(db, T)).toEqual([]);
  });

  it('trueup remap applies a changed mapping to the staged rows, and reconcile sees it', async () => {
    const before = await db.staging.pool.query<{ s: string }>(
      `SELECT max(staged_seq)::text AS s FROM staging.customer WHERE tenant_id = $1`,
      [T],
    );
    // The name now comes from Firma: two customers were renamed there. mappingVersion unchanged.
    await writeConfig({ credit_limit: 'Kreditlimit', name: 'Firma' });
    const res = await cli([
      'remap',
      '--tenant',
      T,
      '--system',
      'crm',
      '--entity',
      'customer',
      '--chunk',
      '7',
    ]);
    expect(res.err).toBe('');
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/crm\s.*csv\s.*customer\s.*20\s.*2\s.*18\s.*0/);
    // Only the two renamed rows were rewritten.
    const moved = await db.staging.pool.query<{ source_id: string; name: string }>(
      `SELECT source_id, name FROM staging.customer WHERE tenant_id = $1 AND staged_seq > $2 ORDER BY source_id`,
      [T, before.rows[0]!.s],
    );
    expect(moved.rows).toEqual([
      { source_id: 'C4', name: 'Renamed 4' },
      { source_id: 'C5', name: 'Renamed 5' },
    ]);
    // Run again: nothing changes.
    const again = await cli(['remap', '--tenant', T, '--system', 'crm', '--entity', 'customer']);
    expect(again.out).toMatch(/crm\s.*csv\s.*customer\s.*20\s.*0\s.*20\s.*0/);

    const run = await cli(['reconcile', '--tenant', T, '--confirm-wait', '0']);
    expect(run.err).toBe('');
    expect(await openKeys(db, T)).toEqual([
      expect.stringMatching(/^customer \w+ .*4.* name$/),
      expect.stringMatching(/^customer \w+ .*5.* name$/),
    ]);
  });

  it('trueup remap exits 1 when the new mapping dead-letters rows past sync.maxDeadLetterShare', async () => {
    await writeConfig({ credit_limit: 'limit_old', name: 'Firma' });
    const res = await cli(['remap', '--tenant', T, '--entity', 'customer']);
    expect(res.code).toBe(1);
    expect(res.out).toMatch(/crm\s.*customer\s.*20\s.*0\s.*14\s.*6/);
    expect(res.out).toMatch(
      /over the dead-letter threshold: rc\/crm customer: 6 of 20 rows no longer map \(30%, above sync\.maxDeadLetterShare 1%\)/,
    );
    // The rows keep their staged values.
    const { rows } = await db.staging.pool.query<{ credit_limit: string }>(
      `SELECT credit_limit::text FROM staging.customer WHERE tenant_id = $1 AND system = 'crm' AND source_id = 'C1'`,
      [T],
    );
    expect(rows[0]!.credit_limit).toBe('100');
    // --help with an example (commander writes it to the process's stdout).
    let help = '';
    const { buildProgram } = await import('../../pipeline/cli/main.js');
    const remap = buildProgram().commands.find((c) => c.name() === 'remap')!;
    remap.configureOutput({ writeOut: (t) => (help += t) });
    remap.outputHelp();
    expect(help).toMatch(/Examples:\n {2}\$ trueup remap --tenant acme --entity customer --system legacy/);
  });
});

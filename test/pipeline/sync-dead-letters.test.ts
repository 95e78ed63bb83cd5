// Every sync says what it staged and what it could not (issue 12): per entity, rows staged,
// tombstones, dead letters of the run grouped by reason with the first ids, the open total; a run
// whose dead letters exceed sync.maxDeadLetterShare of the rows read exits 1 naming the mapping;
// under it, exit 0 and the counts still printed. `trueup status` shows the same per stream.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reasonOf } from '../../pipeline/connectors/staged-tally.js';
import { syncSystem } from '../../pipeline/connectors/stream-runner.js';
import { deadLetterAlerts } from '../../pipeline/connectors/sync-report.js';
import { createLogger } from '../../pipeline/log/logger.js';
import { runCliCaptured } from '../support/cli.js';
import { useTestDatabase } from '../support/database.js';

const t = useTestDatabase('syncdl');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trueup-syncdl-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const rows = (n: number, bad: (i: number) => boolean) =>
  Array.from({ length: n }, (_, i) => `C${i},Firm ${i},${bad(i) ? `${i}.5x` : `${i}.50`},EUR`).join('\n');

async function world(tenant: string, csv: string, share?: number): Promise<string> {
  const folder = join(dir, tenant, 'customer');
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'export.csv'), `id,name,credit_limit,currency\n${csv}\n`);
  const config = join(dir, `${tenant}.yaml`);
  await writeFile(
    config,
    `tenants:
  ${tenant}:
${share === undefined ? '' : `    sync: { maxDeadLetterShare: ${share} }\n`}    systems:
      legacy:
        kind: csv
        role: erp
        dropDir: ${join(dir, '{tenant}')}
`,
  );
  return config;
}

describe('sync report per entity', () => {
  it('a broken mapping exits 1 with the reasons grouped and the mapping named', async () => {
    const config = await world(
      'broken',
      rows(40, (i) => i % 4 !== 0),
    );
    const res = await runCliCaptured(['sync', '--tenant', 'broken', '--once'], {
      databaseUrl: t.url,
      config,
    });
    expect(res.code, res.err).toBe(1);
    expect(res.out).toMatch(
      /broken\/legacy \(csv\): completed, 1 stream, 40 received, 10 staged, 30 dead-lettered/,
    );
    expect(res.out).toMatch(
      / {2}customer: 40 read, 10 staged, 0 tombstones, 30 dead-lettered this run, 30 open dead letters/,
    );
    // One group for the one broken field, with the first ids.
    expect(res.out).toMatch(/ {4}30 × invalid_record: customer …: credit_limit: .* \(e\.g\. C1, C2, C3\)/);
    expect(res.out).toMatch(
      /over the dead-letter threshold: broken\/legacy customer: 30 of 40 rows read were dead-lettered \(75%, above sync\.maxDeadLetterShare 1%\); look at the customer mapping of system legacy \(tenants\.broken\.systems\.legacy, tenants\.broken\.entities\.customer\.mapping\.legacy\)/,
    );

    const status = await runCliCaptured(['status', '--tenant', 'broken'], { databaseUrl: t.url, config });
    expect(status.code, status.err).toBe(0);
    expect(status.out).toMatch(
      /broken +│? *legacy +│? *customer +│? *10 +│? *0 +│? *30 +│? *75% \(over sync\.maxDeadLetterShare\)/,
    );
    expect(status.out).toMatch(/broken\/legacy customer: 30 × invalid_record: customer …: credit_limit: /);
    const json = JSON.parse(
      (await runCliCaptured(['status', '--tenant', 'broken', '--json'], { databaseUrl: t.url, config })).out,
    );
    expect(json.streams).toEqual([
      expect.objectContaining({
        tenant: 'broken',
        system: 'legacy',
        entity: 'customer',
        live: 10,
        tombstones: 0,
        openDeadLetters: 30,
        overThreshold: true,
      }),
    ]);
  });

  it('under the threshold exits 0 and still prints the counts', async () => {
    const config = await world(
      'fine',
      rows(200, (i) => i === 7),
    );
    const res = await runCliCaptured(['sync', '--tenant', 'fine', '--once'], { databaseUrl: t.url, config });
    expect(res.code, res.err).toBe(0);
    expect(res.out).toMatch(
      / {2}customer: 200 read, 199 staged, 0 tombstones, 1 dead-lettered this run, 1 open dead letter\n/,
    );
    expect(res.out).toMatch(/ {4}1 × invalid_record: customer …: credit_limit: .* \(e\.g\. C7\)/);
    expect(res.out).not.toMatch(/over the dead-letter threshold/);
    // A second run reads nothing new: nothing this run, the open one still counted.
    const again = await runCliCaptured(['sync', '--tenant', 'fine', '--once'], {
      databaseUrl: t.url,
      config,
    });
    expect(again.code).toBe(0);
    expect(again.out).toMatch(
      / {2}customer: 0 read, 0 staged, 0 tombstones, 0 dead-lettered this run, 1 open dead letter\n/,
    );
  });

  it('the threshold is the tenant config key, per entity', async () => {
    const config = await world(
      'lenient',
      rows(10, (i) => i < 3),
      0.5,
    );
    const res = await runCliCaptured(['sync', '--tenant', 'lenient', '--once'], {
      databaseUrl: t.url,
      config,
    });
    expect(res.code, res.err).toBe(0);
    expect(res.out).toMatch(/3 dead-lettered this run/);
  });

  it('the runner reports tombstones, and the alert is a pure function of the report', async () => {
    const deps = { staging: t.staging, logger: createLogger({ level: 'silent' }) };
    const folder = join(dir, 'tomb', 'customer');
    await mkdir(folder, { recursive: true });
    const cfg = {
      kind: 'csv',
      role: 'erp',
      dropDir: join(dir, '{tenant}'),
      entities: { customer: { deleteColumn: 'deleted', versionColumn: 'v' } },
    };
    await writeFile(join(folder, 'a.csv'), 'id,name,deleted,v\nC1,ok,,1\nC2,ok,,1\nC3,ok,,1\n');
    await syncSystem(deps, 'tomb', 'legacy', cfg);
    await writeFile(join(folder, 'b.csv'), 'id,name,deleted,v\nC1,ok,x,2\nC2,renamed,,2\n');
    const r = await syncSystem(deps, 'tomb', 'legacy', cfg);
    expect(r.entities).toEqual([
      {
        entity: 'customer',
        read: 2,
        staged: 1,
        tombstones: 1,
        deadLetters: 0,
        reasons: [],
        openDeadLetters: 0,
      },
    ]);
    expect(deadLetterAlerts(r, 0)).toEqual([]);
  });

  it('reasons leave out what differs per record', () => {
    expect(reasonOf('a.csv line 12: customer K-17: credit_limit: "1,5" is not a number', 'K-17')).toBe(
      'customer …: credit_limit: "…" is not a number',
    );
    expect(reasonOf('tenant a, system b, table public.x (customer): key 7 is null', '7')).toBe(
      'tenant a, system b, table public.x (customer): key … is null',
    );
  });
});

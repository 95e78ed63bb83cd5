// Issue 12, "reconcile knows when a side is incomplete": a tenant whose CRM mapping went wrong for
// 30 % of its records (the generator's "mapping gone wrong" profile: they are dead-lettered with
// their keys intact). Reconcile reports their counterparts as unverifiable — never a false
// missing_in_* — and says, in summary.json and the CLI table, how complete each side is; --fail-on
// fails on the incomplete side unless --allow-incomplete. Fixing the mapping and `trueup dlq
// replay` turn them into ordinary results: the incremental run then equals the truth of the same
// data generated without the profile.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  type GenerateOptions,
  generateTenant,
  generatorTenantConfig,
} from '../../pipeline/generator/ground-truth.js';
import { stageTenant } from '../../pipeline/generator/stage-generated.js';
import type { RunSummary } from '../../reconcilers/run/run-summary.js';
import { discardDeadLetters, listDeadLetters } from '../../staging/control/dead-letters.js';
import { replayDeadLetters } from '../../staging/control/replay-dead-letters.js';
import { runCliCaptured } from '../support/cli.js';
import { useTestDatabase } from '../support/database.js';
import {
  csvTenantConfig,
  dataDir,
  keyOf,
  openDiscrepancies,
  openKeys as openKeysOf,
  reconcile,
  removeDataDirs,
  stageRows,
} from './helpers.js';

const db = useTestDatabase('recon_dl');
const COUNTS = { customer: 60, product: 10, order: 40, invoice: 40, payment: 30, subscription: 20 };
const opts: GenerateOptions = {
  tenant: 'acme',
  seed: 12,
  counts: COUNTS,
  deadLetters: { side: 'crm', share: 0.3 },
};
let dir: string;
let configFile: string;
const cli = (args: string[]) => runCliCaptured(args, { databaseUrl: db.url, config: configFile });

beforeAll(async () => {
  dir = await dataDir();
  configFile = join(dir, 'trueup.yaml');
  await writeFile(configFile, stringify({ dataDir: dir, tenants: { acme: generatorTenantConfig(opts) } }));
});
afterAll(async () => {
  await removeDataDirs();
});

const openKeys = async () => new Set((await openDiscrepancies(db, 'acme')).map(keyOf));
const diff = (got: Set<string>, want: Set<string>) => ({
  falsePositives: [...got].filter((k) => !want.has(k)).sort(),
  missed: [...want].filter((k) => !got.has(k)).sort(),
});

describe('a side with 30 % of its records dead-lettered', () => {
  it('reports their counterparts as unverifiable, states the completeness, and --fail-on fails on it', async () => {
    const gen = generateTenant(opts);
    await stageTenant(db.staging.pool, gen);
    const { rows } = await db.staging.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM control.dead_letters WHERE tenant_id = 'acme' AND status = 'open' AND system = 'crm'`,
    );
    const dead = Object.values(gen.entities).reduce(
      (n, e) => n + e.crm.filter((r) => r.deadLetter).length,
      0,
    );
    expect(rows[0]!.n).toBe(dead);

    const run = await cli(['reconcile', '--tenant', 'acme', '--confirm-wait', '0', '--fail-on', 'material']);
    // Nothing on stderr but, on a slow machine, the progress lines of long work ("reconcile: 3 / 6 entities …").
    expect(run.err.split('\n').filter((l) => l && !/^reconcile\b.*\bentit/.test(l))).toEqual([]);
    expect(run.code).toBe(1);
    // The table shows each side's dead letters and the less complete side's figure.
    expect(run.out).toMatch(/dl crm\/erp\s+complete/);
    expect(run.out).toMatch(/customer\s.*\s\d+\/0\s+[67]\d\.\d% crm !/);
    expect(run.out).toMatch(
      /incomplete: customer: the CRM side \(crm\) is incomplete — \d+ open dead letters/,
    );
    expect(run.out).toMatch(/^INCOMPLETE acme customer: /m);

    const got = await openKeys();
    const want = new Set(gen.truth.map(keyOf));
    expect(diff(got, want)).toEqual({ falsePositives: [], missed: [] });
    expect([...got].filter((k) => / missing_in_crm /.test(k)).length).toBe(
      gen.truth.filter((t) => t.class === 'missing_in_crm').length,
    );
    const unverifiable = gen.truth.filter((t) => t.class === 'unverifiable' && t.field === '');
    expect(unverifiable.length).toBeGreaterThan(30);

    // summary.json states the completeness of each side per entity.
    const path = /summary: (.*summary\.json)/.exec(run.out)![1]!;
    const summary = JSON.parse(readFileSync(path, 'utf8')) as RunSummary;
    const customer = summary.entities.find((e) => e.entity === 'customer')!;
    expect(customer.completeness.crm.deadLetters).toBe(
      gen.entities.customer.crm.filter((r) => r.deadLetter).length,
    );
    expect(customer.completeness.erp).toMatchObject({ deadLetters: 0, completeness: 1 });
    expect(customer.completeness.incomplete).toEqual(['crm']);
    expect(summary.incomplete.map((i) => i.entity).sort()).toEqual(Object.keys(COUNTS).sort());
    expect(summary.countsByClass.unverifiable).toBe(
      gen.truth.filter((t) => t.class === 'unverifiable').length,
    );
    // Unverifiable findings are never material, and point at the dead letters.
    const { rows: stored } = await db.staging.pool.query<{
      material: boolean;
      detail: Record<string, unknown>;
    }>(
      `SELECT material, detail FROM control.discrepancies WHERE tenant_id = 'acme' AND class = 'unverifiable' AND field = ''`,
    );
    expect(stored.every((r) => !r.material)).toBe(true);
    expect(stored.every((r) => (r.detail.deadLetters as unknown[]).length > 0)).toBe(true);
    expect(stored[0]!.detail).toMatchObject({ reason: 'counterpart_dead_lettered', deadLetterSide: 'crm' });

    // --allow-incomplete: only the material discrepancies count (there are some: exit 1 anyway),
    // and no INCOMPLETE line.
    const allowed = await cli([
      'reconcile',
      '--tenant',
      'acme',
      '--confirm-wait',
      '0',
      '--fail-on',
      'material',
      '--allow-incomplete',
    ]);
    expect(allowed.out).not.toMatch(/^INCOMPLETE/m);
    expect(diff(await openKeys(), want)).toEqual({ falsePositives: [], missed: [] });
  });

  it('fixing the mapping and `trueup dlq replay` turn them into ordinary results', async () => {
    // The fixed mapping maps the source records again: the change of each dead letter gets the
    // fields its raw record gives (what a connector's mapper does on replay; the generator's mapping
    // is the identity).
    await db.staging.pool.query(
      `UPDATE control.dead_letters SET record = jsonb_set(record, '{change,fields}', record #> '{change,raw}')
        WHERE tenant_id = 'acme' AND status = 'open'`,
    );
    const replay = await cli(['dlq', 'replay', '--tenant', 'acme']);
    expect(replay.out).toMatch(/^replayed \d+, still failing 0/);
    expect(replay.code).toBe(0);
    const run = await cli(['reconcile', '--tenant', 'acme', '--confirm-wait', '0', '--json']);
    const [summary] = JSON.parse(run.out) as RunSummary[];
    expect(summary!.incomplete).toEqual([]);
    // (A third of the records staged anew: the scope passes half the mirror, so the runs are full.)
    // The same data generated without the profile: its truth, and nothing unverifiable left.
    const clean = generateTenant({ ...opts, deadLetters: undefined });
    const want = new Set(clean.truth.map(keyOf));
    expect(clean.truth.some((t) => t.class === 'unverifiable')).toBe(false);
    expect(diff(await openKeys(), want)).toEqual({ falsePositives: [], missed: [] });
    // And a full run agrees.
    await cli(['reconcile', '--tenant', 'acme', '--confirm-wait', '0', '--full']);
    expect(diff(await openKeys(), want)).toEqual({ falsePositives: [], missed: [] });
  });
});

describe('an incremental run follows the dead letters', () => {
  it('a new letter makes its counterpart unverifiable; a replay pairs it; a discard makes it missing', async () => {
    const T = 'inc';
    const cfg = csvTenantConfig(T, {
      entities: { customer: { match: { keys: [{ field: 'email', normalise: 'email' }] } } },
    });
    const customers = (ids: number[], extra: Record<string, unknown> = {}) =>
      ids.map((i) => ({
        id: `C${i}`,
        name: `Customer ${i}`,
        email: `c${i}@x.example`,
        credit_limit: '100',
        ...extra,
      }));
    const many = Array.from({ length: 30 }, (_v, i) => i + 10);
    await stageRows(db, T, 'crm', 'customer', customers([1, ...many]));
    await stageRows(
      db,
      T,
      'erp',
      'customer',
      customers([1, 2, 3, ...many]).map((c) => ({ ...c, id: `E${String(c.id).slice(1)}` })),
    );
    // C2's mapping went wrong: its change is dead-lettered with its email (a business key).
    await stageRows(db, T, 'crm', 'customer', customers([2], { credit_limit: '1.000,00 €' }));
    const run = (mode: 'full' | 'incremental') =>
      reconcile(db, dir, T, cfg, { mode, entities: ['customer'] });
    let s = await run('full');
    expect(s.entities[0]!.completeness.crm.deadLetters).toBe(1);
    expect(await openKeysOf(db, T)).toEqual(['customer missing_in_crm E:E3 ', 'customer unverifiable E:E2 ']);
    // (The key matches it recorded come back as changed xref links once: an incremental run settles them.)
    await run('incremental');

    // C3 fails to stage too (a new dead letter, nothing staged): E3 is no longer missing.
    await stageRows(db, T, 'crm', 'customer', customers([3], { credit_limit: 'n/a €' }));
    s = await run('incremental');
    expect(s.entities[0]!.mode).toBe('incremental');
    expect(await openKeysOf(db, T)).toEqual(['customer unverifiable E:E2 ', 'customer unverifiable E:E3 ']);

    // C2's mapping is fixed and its letter replayed: the pair is matched, nothing left to report.
    const letters = await listDeadLetters(db.staging.db, { tenant: T });
    const c2 = letters.find((l) => l.sourceId === 'C2')!;
    await db.staging.pool.query(
      `UPDATE control.dead_letters SET record = jsonb_set(record, '{change,fields,credit_limit}', '"100"') WHERE tenant_id = $1 AND id = $2`,
      [T, c2.id],
    );
    expect((await replayDeadLetters(db.staging, { tenant: T, ids: [c2.id] })).replayed).toEqual([c2.id]);
    s = await run('incremental');
    expect(s.entities[0]!.mode).toBe('incremental');
    expect(await openKeysOf(db, T)).toEqual(['customer unverifiable E:E3 ']);

    // C3's letter is discarded: nothing stands for E3's counterpart any more, it is missing again.
    const c3 = letters.find((l) => l.sourceId === 'C3')!;
    expect(await discardDeadLetters(db.staging.db, T, [c3.id])).toBe(1);
    s = await run('incremental');
    expect(s.entities[0]!.mode).toBe('incremental');
    expect(s.entities[0]!.completeness.crm.deadLetters).toBe(0);
    expect(await openKeysOf(db, T)).toEqual(['customer missing_in_crm E:E3 ']);
    const full = await run('full');
    expect(full.errors).toEqual([]);
    expect(await openKeysOf(db, T)).toEqual(['customer missing_in_crm E:E3 ']);
  });
});

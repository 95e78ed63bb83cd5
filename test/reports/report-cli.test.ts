// `trueup report` and `trueup close` on the command line: help with examples, usage errors (exit
// 2), a tenant never reconciled (exit 1), the reports written by `trueup reconcile` itself and
// rebuilt by `trueup report`, and the cross-tenant overview.
import { access, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { createCliContext } from '../../pipeline/cli/cli-context.js';
import { buildProgram } from '../../pipeline/cli/main.js';
import { cliWorld } from '../cli/cli-world.js';
import { stageRows } from '../reconcilers/helpers.js';

const world = cliWorld('rep_cli', ['alpha', 'beta']);

function helpOf(name: string): string {
  let text = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    text += String(chunk);
    return true;
  });
  try {
    const program = buildProgram(createCliContext({}, () => {}));
    program.commands.find((c) => c.name() === name)!.outputHelp();
  } finally {
    spy.mockRestore();
  }
  return text;
}

const exists = (f: string) =>
  access(f).then(
    () => true,
    () => false,
  );

describe('trueup report and trueup close', () => {
  it('have help with examples', () => {
    expect(helpOf('report')).toMatch(/Examples:\n {2}\$ trueup report --tenant acme/);
    expect(helpOf('close')).toMatch(
      /Examples:\n {2}\$ trueup close --tenant acme --period 2026-11 --by alice/,
    );
  });

  it('exit 2 on usage errors', async () => {
    for (const [args, message] of [
      [['report'], 'give either --tenant <id> or --all-tenants'],
      [['report', '--tenant', 'alpha', '--all-tenants'], 'give either'],
      [
        ['report', '--tenant', 'alpha', '--period', '2026-13'],
        '--period: period "2026-13" is not a month such as 2026-11',
      ],
      [['report', '--tenant', 'alpha', '--run', '../../etc'], 'is not a run id'],
      [['report', '--all-tenants', '--since', 'yesterday'], '--since "yesterday" is not a date'],
      [['report', '--tenant', 'gamma'], "unknown tenant 'gamma'"],
      [['close', '--tenant', 'alpha', '--period', '2026-11', '--by', ' '], '--by must name who signs'],
      [['close', '--tenant', 'alpha', '--period', 'November', '--by', 'alice'], 'is not a month'],
    ] as const) {
      const res = await world.cli([...args]);
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.err).toContain(message);
    }
  });

  it('say so when a tenant was never reconciled', async () => {
    const report = await world.cli(['report', '--tenant', 'beta']);
    expect(report.code).toBe(1);
    expect(report.err).toContain('tenant beta has no finished reconcile run yet');
    const close = await world.cli(['close', '--tenant', 'beta', '--period', '2026-11', '--by', 'alice']);
    expect(close.code).toBe(1);
    expect(close.err).toContain(
      'tenant beta has no finished reconcile run: reconcile before signing off 2026-11',
    );
  });

  it('reconcile writes the reports; report rebuilds them; the overview covers every tenant', async () => {
    await stageRows(world.db, 'alpha', 'crm', 'customer', [
      { id: 'c1', erp_ref: 'e1', name: 'Acme', currency: 'EUR', credit_limit: '100' },
      { id: 'c2', name: 'Only in CRM' },
    ]);
    await stageRows(world.db, 'alpha', 'erp', 'customer', [
      { id: 'e1', name: 'ACME GmbH', currency: 'EUR', credit_limit: '250' },
    ]);
    const rec = await world.cli([
      'reconcile',
      '--tenant',
      'alpha',
      '--entity',
      'customer',
      '--full',
      '--json',
    ]);
    expect(rec.code).toBe(0);
    const [summary] = JSON.parse(rec.out) as { runId: string; outputDir: string }[];
    const dir = summary!.outputDir;
    for (const f of [
      'report.html',
      'report.xlsx',
      'discrepancies.csv',
      'actions.csv',
      'discrepancies.parquet',
      'summary.json',
    ])
      expect(await exists(join(dir, f)), f).toBe(true);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);

    // Rebuilt from the control tables, summary.json included, into a data folder that lost them.
    const before = await readFile(join(dir, 'discrepancies.csv'), 'utf8');
    await rm(join(dir, 'discrepancies.csv'));
    await rm(join(dir, 'summary.json'));
    const rebuilt = await world.cli(['report', '--tenant', 'alpha']);
    expect(rebuilt.err).toBe('');
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.out).toContain(`report of alpha, run ${summary!.runId}: 3 discrepancies (1 material`);
    expect(await readFile(join(dir, 'discrepancies.csv'), 'utf8')).toBe(before);
    expect(JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8'))).toMatchObject({
      runId: summary!.runId,
      tenant: 'alpha',
    });

    const ov = await world.cli(['report', '--all-tenants', '--since', '2020-01-01', '--json']);
    expect(ov.code).toBe(0);
    const { tenants, files } = JSON.parse(ov.out);
    expect(files).toEqual([
      join(world.dir, 'overview', 'overview.html'),
      join(world.dir, 'overview', 'overview.json'),
    ]);
    expect(tenants).toMatchObject([
      {
        tenant: 'alpha',
        lastRun: { runId: summary!.runId, status: 'succeeded' },
        live: { discrepancies: 3, material: 1, openMaterial: 1 },
        moneyAtStake: { EUR: '150' },
        report: join('..', 'runs', 'alpha', summary!.runId, 'report.html'),
      },
      { tenant: 'beta', lastRun: null, live: { discrepancies: 0 }, report: null },
    ]);
    const html = await readFile(files[0], 'utf8');
    expect(html).toContain(`<a href="../runs/alpha/${summary!.runId}/report.html">report</a>`);
    expect(html).toContain('never reconciled');
    expect(html).not.toMatch(/<script/i);
  });
});

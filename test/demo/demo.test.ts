// `trueup demo` end to end (pipeline/demo/run-demo.ts, as the command calls it) in a temp
// TRUEUP_HOME: its own staging and source clusters, the sandboxes, three tenants. Every class of
// discrepancy is in each tenant's first pass (acme and initech: mismatches and missing records in
// customers, products, orders and invoices; globex in customers, products and orders), corrections are
// applied, and nothing is actionable after the second pass; with --keep, serve answers and the written config
// is one `trueup status` reads; after the stop request both clusters are down.
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createCliContext } from '../../pipeline/cli/cli-context.js';
import { buildProgram, runCli } from '../../pipeline/cli/main.js';
import { runDemo } from '../../pipeline/demo/run-demo.js';
import { runningPostmaster } from '../../pipeline/embedded/embedded-sharing.js';
import { createLogger } from '../../pipeline/log/logger.js';
import { DISCREPANCY_CLASSES } from '../../staging/control/discrepancy-states.js';

/** What the test reads of a run's summary.json. */
interface Summary {
  countsByEntity: Record<string, Record<string, number>>;
}

let home: string | undefined;
afterAll(async () => {
  if (home) await rm(home, { recursive: true, force: true });
});

it('runs the loop for acme, globex and initech, ends with the corrections resolved, and --keep serves it', {
  timeout: 240_000,
}, async () => {
  home = await mkdtemp(join(tmpdir(), 'trueup-demo-'));
  // As root the clusters run as "postgres", which must pass through the temp folder.
  await chmod(home, 0o711);
  const lines: string[] = [];
  const stop = new AbortController();
  let kept!: (text: string) => void;
  const keeping = new Promise<string>((r) => (kept = r));
  const running = runDemo({
    dir: join(home, 'demo'),
    customers: 120,
    keep: true,
    port: 0,
    env: { TRUEUP_HOME: home },
    logger: createLogger({ level: process.env.TRUEUP_TEST_LOG ?? 'silent' }),
    say: (line) => {
      lines.push(line);
      if (line.includes('The demo keeps running')) kept(line);
    },
    signal: stop.signal,
    inlineReconcile: true,
  });
  // A demo that fails before it keeps running ends the wait too.
  const early = await Promise.race([keeping.then(() => null), running]);
  expect(early, lines.join('\n')).toBeNull();

  // While it runs: serve answers, and the written config is one the other commands read.
  const api = /(http:\/\/127\.0\.0\.1:\d+)\/api\/status/.exec(lines.join('\n'))![1]!;
  const status = (await (await fetch(`${api}/api/status`)).json()) as { sources: { tenant: string }[] };
  expect(new Set(status.sources.map((s) => s.tenant))).toEqual(new Set(['acme', 'globex', 'initech']));
  let text = '';
  const ctx = createCliContext({ TRUEUP_HOME: home }, (t) => {
    text += t;
  });
  const configFile = join(home, 'demo', 'trueup.yaml');
  const code = await runCli(['-c', configFile, '--log-level', 'error', 'status'], ctx);
  expect(code, text).toBe(0);
  expect(text).toMatch(/acme/);
  expect(text).toMatch(/initech/);
  // globex's deals name their company only by association: staged as customer_ref, most order
  // pairs agree on it (judged through the customers' links), and no open discrepancy is left.
  const orderFindings = async (status: string) => {
    text = '';
    const args = ['discrepancies', 'list', '--tenant', 'globex', '--entity', 'order', '--json'];
    expect(
      await runCli(
        ['-c', configFile, '--log-level', 'error', ...args, '--status', status, '--limit', '5000'],
        ctx,
      ),
      text,
    ).toBe(0);
    return JSON.parse(text) as { field: string | null; class?: string }[];
  };
  const resolved = await orderFindings('resolved');
  expect(resolved.length, JSON.stringify(resolved.slice(0, 3))).toBeGreaterThan(0);
  const refFindings = resolved.filter((d) => d.field === 'customer_ref').length;
  expect(refFindings, `${refFindings} of ${resolved.length} order findings are on customer_ref`).toBeLessThan(
    resolved.length / 2,
  );

  stop.abort();
  const result = await running;
  const out = lines.join('\n');
  expect(result.outcomes.map((o) => o.tenant)).toEqual(['acme', 'globex', 'initech']);
  for (const o of result.outcomes) {
    for (const c of DISCREPANCY_CLASSES)
      expect(o.firstPass[c] ?? 0, `${o.tenant} ${c}\n${out}`).toBeGreaterThan(0);
    expect(o.applied, `${o.tenant}\n${out}`).toBeGreaterThan(0);
    expect(o.failed, `${o.tenant}\n${out}`).toBe(0);
    expect(o.correctedStillOpen, `${o.tenant}\n${out}`).toEqual([]);
    expect(o.actionableAfter, `${o.tenant}\n${out}`).toBe(0);
    expect(o.reports.length).toBe(2);
    for (const r of o.reports) expect(existsSync(r), r).toBe(true);
    // acme and initech reconcile products, orders and invoices too (references in each system's
    // own ids), globex products (without records only HubSpot has: NetSuite cannot create an item
    // with its price) and orders (HubSpot deals, their company by association ↔ NetSuite sales
    // orders; neither side has one the other lacks): each has discrepancies in the first pass,
    // and none is actionable after.
    const [first, second] = await Promise.all(
      o.reports.map(
        async (r) => JSON.parse(await readFile(join(dirname(r), 'summary.json'), 'utf8')) as Summary,
      ),
    );
    const entities =
      o.tenant === 'globex' ? ['customer', 'product', 'order'] : ['customer', 'product', 'order', 'invoice'];
    for (const entity of entities) {
      const counts = first!.countsByEntity[entity] ?? {};
      const expected =
        o.tenant === 'globex' && entity === 'product'
          ? ['field_mismatch', 'missing_in_crm']
          : o.tenant === 'globex' && entity === 'order'
            ? ['field_mismatch']
            : ['field_mismatch', 'missing_in_erp', 'missing_in_crm'];
      for (const c of expected)
        expect(counts[c] ?? 0, `${o.tenant} ${entity} ${c}\n${out}`).toBeGreaterThan(0);
      const after = second!.countsByEntity[entity] ?? {};
      for (const c of ['field_mismatch', 'missing_in_erp', 'missing_in_crm'])
        expect(after[c] ?? 0, `${o.tenant} ${entity} ${c} after\n${out}`).toBe(0);
    }
  }
  expect(result.ok).toBe(true);
  expect(result.configFile).toBe(configFile);
  expect(out).toMatch(/tenant\s+cur\s+miss_erp/);
  // Stopped: both clusters are down.
  for (const cluster of ['staging', 'source'])
    expect(await runningPostmaster(join(home, 'demo', cluster))).toBeUndefined();
});

it('checks its options before starting anything, and shows an example in --help', async () => {
  const never = join(tmpdir(), `trueup-demo-never-made-${process.pid}`);
  const ctx = createCliContext(
    { TRUEUP_HOME: never },
    () => {},
    () => {},
  );
  expect(await runCli(['demo', '--customers', '5'], ctx)).toBe(2);
  expect(await runCli(['demo', '--port', 'x'], ctx)).toBe(2);
  expect(existsSync(never)).toBe(false);
  const demo = buildProgram(createCliContext({}, () => {})).commands.find((c) => c.name() === 'demo')!;
  let help = '';
  demo.configureOutput({ writeOut: (t) => (help += t), writeErr: (t) => (help += t) });
  demo.outputHelp();
  expect(help).toMatch(/\$ trueup demo --keep/);
});

// `trueup demo` put together: a fresh demo folder (<trueup home>/demo), the source Postgres for
// the CDC tenants (a second embedded cluster in demo/source), the vendor sandboxes in this
// process, the config file (demo/trueup.yaml, secrets beside it), the staging Postgres (the
// embedded one, in demo/staging), then each tenant's loop (tenant-loop.ts) and the summary.
// With `keep`, everything stays up with `serve` until the stop signal; else all is stopped.
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { createReconcilePool } from '../../reconcilers/pool/reconcile-pool.js';
import { loadConfigFile } from '../config/load-config.js';
import { runningPostmaster } from '../embedded/embedded-sharing.js';
import { type PostgresServer, startEmbedded } from '../embedded/postgres-server.js';
import type { Logger } from '../log/logger.js';
import { openRuntime, type Runtime } from '../runtime.js';
import { DemoError } from './demo-error.js';
import { failedOutcome, outcomeOk, summaryTable, type TenantOutcome } from './demo-summary.js';
import { DEMO_TENANTS, type DemoWorld, startDemoWorld } from './demo-tenants.js';
import { keepRunning } from './keep-running.js';
import { runTenantLoop } from './tenant-loop.js';

export const DEFAULT_DEMO_CUSTOMERS = 200;

const CURRENCY = { acme: 'USD', globex: 'EUR', initech: 'JPY' } as const;

export interface DemoOptions {
  /** The demo's folder (emptied first): <trueup home>/demo. */
  dir: string;
  /** Generated customers per tenant (acme and initech: as many products, orders and invoices too). */
  customers: number;
  /** Leave everything running with `serve` until `signal` aborts. */
  keep: boolean;
  /** `serve`'s HTTP port with `keep` (0: a free one). */
  port: number;
  env: Readonly<Record<string, string | undefined>>;
  logger: Logger;
  say: (line: string) => void;
  /** Stops the loop between steps, and a kept demo. */
  signal: AbortSignal;
  /** Reconcile jobs in this thread (the TypeScript sources under test have no worker file). */
  inlineReconcile?: boolean;
}

export interface DemoResult {
  ok: boolean;
  outcomes: TenantOutcome[];
  configFile: string;
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const dir = resolve(o.dir);
  await freshFolder(dir);
  const say = o.say;
  const closers: (() => Promise<unknown>)[] = [];
  try {
    say(`demo folder: ${dir}`);
    const source = await startEmbedded({
      dataDir: join(dir, 'source'),
      log: (line) => o.logger.debug({ component: 'demo-source-postgres' }, line),
    });
    closers.push(() => source.release());
    say(`source Postgres (for the CDC tenants) on port ${new URL(source.url).port}, wal_level=logical`);
    const world = await startDemoWorld({ cluster: clusterOf(source), count: o.customers });
    closers.push(() => world.close());
    say(
      `sandboxes: Salesforce (acme), HubSpot and NetSuite (globex); ${o.customers} generated customers per tenant ` +
        '(acme and initech: as many products, orders and invoices too)',
    );
    const configFile = await writeConfig(dir, world);
    say(`config: ${configFile}`);

    // The demo never writes into a staging database named by TRUEUP_DATABASE_URL: its own cluster.
    const env = { ...o.env, TRUEUP_DATABASE_URL: undefined };
    const { config } = await loadConfigFile(configFile, env);
    const rt = await openRuntime({ config, logger: o.logger, env });
    closers.push(() => rt.close());
    say(`staging Postgres: ${join(dir, 'staging')}`);

    const outcomes = await runLoops(rt, world, o);
    say('');
    say(summaryTable(outcomes));
    say('');
    for (const t of outcomes) if (t.reports.length) say(`${t.tenant} reports: ${t.reports.join('  ')}`);
    const ok = outcomes.every(outcomeOk);
    for (const t of outcomes.filter((x) => !outcomeOk(x)))
      say(
        t.error !== undefined
          ? `${t.tenant}: FAILED — ${t.error}`
          : `${t.tenant}: NOT RESOLVED — ${t.applied} applied; still open for corrected records: ${t.correctedStillOpen.slice(0, 5).join('; ') || '(none)'}`,
      );
    if (o.keep) await keepRunning({ rt, configFile, port: o.port, outcomes, say, signal: o.signal });
    return { ok, outcomes, configFile };
  } finally {
    for (const c of closers.reverse()) await c().catch(() => {});
  }
}

async function runLoops(rt: Runtime, world: DemoWorld, o: DemoOptions): Promise<TenantOutcome[]> {
  const pool = createReconcilePool({
    threads: 1,
    ...(o.inlineReconcile ? { inline: true } : {}),
    jobTimeoutMs: rt.config.workers.jobTimeoutMs,
  });
  try {
    const outcomes: TenantOutcome[] = [];
    for (const tenant of DEMO_TENANTS) {
      if (o.signal.aborted) throw new DemoError('the demo was stopped');
      o.say('');
      try {
        outcomes.push(
          await runTenantLoop(
            { rt, pool, say: o.say, signal: o.signal },
            tenant,
            CURRENCY[tenant],
            world.deleteMarked[tenant],
          ),
        );
      } catch (err) {
        // One tenant's failure never stops the others (but a stop request does).
        if (o.signal.aborted) throw err;
        o.logger.error({ err, tenant }, 'the demo loop of a tenant failed');
        const message = (err as Error).message;
        o.say(`${tenant}: FAILED — ${message}`);
        outcomes.push(failedOutcome(tenant, CURRENCY[tenant], message));
      }
    }
    return outcomes;
  } finally {
    await pool.close();
  }
}

/** Empties the demo folder; refuses while a kept demo (or anything) still runs its clusters. */
async function freshFolder(dir: string): Promise<void> {
  for (const cluster of ['staging', 'source']) {
    const running = await runningPostmaster(join(dir, cluster));
    if (running)
      throw new DemoError(
        `a Postgres server (pid ${running.pid}) still runs in ${join(dir, cluster)} — a demo started with --keep? ` +
          'Stop that demo (Ctrl-C) first, then run the demo again',
      );
  }
  if (existsSync(dir)) await rm(dir, { recursive: true, force: true });
  // As root the clusters run as "postgres", which must enter this folder and every folder made
  // for it here (the CLI's umask would make them 0700).
  const first = await mkdir(dir, { recursive: true });
  for (let d = dir; first !== undefined; d = dirname(d)) {
    await chmod(d, 0o755);
    if (d === first || dirname(d) === d) break;
  }
}

function clusterOf(server: PostgresServer) {
  return { adminUrl: server.url, port: Number(new URL(server.url).port) };
}

/** Writes demo/trueup.yaml (and its secret files) for the demo's own clusters and the sandboxes. */
async function writeConfig(dir: string, world: DemoWorld): Promise<string> {
  const secrets = join(dir, 'secrets');
  await mkdir(secrets, { recursive: true, mode: 0o700 });
  for (const [name, value] of Object.entries(world.secrets))
    await writeFile(join(secrets, name), `${value}\n`, { mode: 0o600 });
  const file = join(dir, 'trueup.yaml');
  const config = {
    staging: { embedded: { dataDir: join(dir, 'staging') } },
    dataDir: join(dir, 'data'),
    workers: { threads: 1 },
    // With --keep, serve polls the API sandboxes often, so a change made there shows up soon.
    serve: { pollSeconds: 10 },
    tenants: world.tenants,
  };
  const header =
    '# Written by `trueup demo`: three demo tenants over a source Postgres and vendor sandboxes that\n' +
    '# run only while the demo does (`trueup demo --keep`). Secrets are files under secrets/.\n';
  await writeFile(file, header + stringify(config, { aliasDuplicateObjects: false }), { mode: 0o600 });
  return file;
}

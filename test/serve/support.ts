// Helpers for the serve tests: a recording ServeWork (in-process serves whose reconciles and
// passes the test sees), in-process serve instances on a test database, a Prometheus text parser,
// HTTP calls, and the CLI bundled from the sources for tests that run `trueup serve` as processes.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { parseConfigText } from '../../pipeline/config/load-config.js';
import type { TrueupConfig } from '../../pipeline/config/schema.js';
import { type RunningServe, type ServeOptions, startServe } from '../../pipeline/serve/serve.js';
import { type ServeConfig, serveConfigSchema } from '../../pipeline/serve/serve-config.js';
import type { CaptureReport, ReconcileRequest, ServeWork } from '../../pipeline/serve/work.js';
import { packageRoot } from '../../staging/package-root.js';
import type { TestDatabase } from '../support/database.js';
import { quietLogger } from '../support/postgres.js';

export { quietLogger } from '../support/postgres.js';
export { until } from '../support/wait.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function config(yaml: string, env: Record<string, string> = {}): Readonly<TrueupConfig> {
  return parseConfigText(yaml, 'test.yaml', env);
}

export interface RecordedReconcile extends ReconcileRequest {
  by: string;
  startedAt: number;
  endedAt: number;
}

const emptyReport = (): CaptureReport => ({
  status: 'completed',
  requests: 0,
  retries: 0,
  throttled: 0,
  streams: [],
});

/** A ServeWork that records reconciles (taking `reconcileMs`) and never captures anything itself. */
export function recordingWork(
  name: string,
  log: RecordedReconcile[],
  o: { reconcileMs?: number; applies?: string[] } = {},
): ServeWork {
  return {
    captureMode: () => undefined,
    rereadable: () => true,
    stream: async () => emptyReport(),
    pass: async () => emptyReport(),
    async reconcile(req) {
      const startedAt = Date.now();
      await sleep(o.reconcileMs ?? 20);
      log.push({ ...req, by: name, startedAt, endedAt: Date.now() });
      return {
        runId: `run-${randomBytes(4).toString('hex')}`,
        status: 'succeeded',
        totals: { discrepancies: 0, material: 0, actions: 0 },
        errors: [],
      };
    },
    backfill: async () => emptyReport(),
    async apply(req) {
      o.applies?.push(req.tenant);
      return { applied: 0, failed: 0, skippedStale: 0, notNow: 0, errors: [] };
    },
    cdcFigures: async () => undefined,
    abandonRuns: async () => 0,
    close: async () => {},
  };
}

export function serveSettings(over: Partial<ServeConfig> = {}): ServeConfig {
  return {
    ...serveConfigSchema.parse({}),
    port: 0,
    missedRunGraceSeconds: 0,
    metricsCacheSeconds: 0,
    ...over,
  };
}

/** An in-process serve on the test database, tuned to react in well under a second. */
export function startTestServe(
  db: TestDatabase,
  cfg: Readonly<TrueupConfig>,
  work: ServeWork,
  over: Partial<ServeOptions> = {},
): Promise<RunningServe> {
  return startServe({
    config: cfg,
    serve: serveSettings(),
    staging: db.staging,
    stagingUrl: db.url,
    logger: quietLogger(),
    work,
    tuning: { pollingIntervalSeconds: 0.5, claimRetryMs: 200, restartMs: 200, deferSeconds: 1 },
    ...over,
  });
}

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses the Prometheus text exposition format (version 0.0.4): HELP/TYPE comments, then
 * `name{label="value",…} number` lines, label values with \\ \" and \n escapes.
 */
export function parsePrometheus(text: string): {
  samples: Map<string, Sample[]>;
  types: Map<string, string>;
} {
  const samples = new Map<string, Sample[]>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    if (line.startsWith('#')) {
      const m = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (m) types.set(m[1]!, m[2]!);
      else if (!/^# HELP \S+ /.test(line)) throw new Error(`not a Prometheus comment: ${line}`);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[3] ?? '';
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
    let consumed = 0;
    for (;;) {
      const lm = re.exec(body);
      if (!lm) break;
      labels[lm[1]!] = lm[2]!.replace(/\\(["\\n])/g, (_x, c: string) => (c === 'n' ? '\n' : c));
      consumed = re.lastIndex;
    }
    if (consumed !== body.length) throw new Error(`bad labels in: ${line}`);
    const raw = m[4]!;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    if (Number.isNaN(value) && raw !== 'NaN') throw new Error(`bad value in: ${line}`);
    const list = samples.get(m[1]!) ?? [];
    list.push({ labels, value });
    samples.set(m[1]!, list);
  }
  return { samples, types };
}

/** The value of the sample of `name` whose labels include `labels` (undefined if none). */
export function sampleValue(
  parsed: ReturnType<typeof parsePrometheus>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return parsed.samples.get(name)?.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value;
}

export async function http(
  url: string,
  o: { method?: string; token?: string; body?: unknown } = {},
): Promise<{ status: number; json: unknown; text: string; headers: Headers }> {
  const res = await fetch(url, {
    method: o.method ?? 'GET',
    headers: {
      ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
      ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

let bundled: Promise<string> | undefined;

/** Removes the bundle (afterAll of a file that used it). */
export async function removeBundledCli(): Promise<void> {
  const file = await bundled?.catch(() => undefined);
  bundled = undefined;
  if (file) await rm(file, { force: true });
}

/**
 * The `trueup` CLI bundled from the TypeScript sources (esbuild, dependencies left external), so
 * that a test runs the code under test as a real process without a `npm run build` of the whole
 * tree. Written under node_modules/.cache so that package.json, sql/ and node_modules resolve
 * from it as from dist/.
 */
export function bundledCli(): Promise<string> {
  bundled ??= (async () => {
    const dir = join(packageRoot(), 'node_modules/.cache/trueup-serve-test');
    await mkdir(dir, { recursive: true });
    const outfile = join(dir, `trueup-${process.pid}-${randomBytes(3).toString('hex')}.mjs`);
    await build({
      entryPoints: [join(packageRoot(), 'pipeline/cli/bin.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      outfile,
      logLevel: 'error',
    });
    return outfile;
  })();
  return bundled;
}

export interface ServeProcess {
  child: ChildProcess;
  stderr: () => string;
  /** The URL it listens on, once it said so. */
  url: Promise<string>;
  exited: Promise<number | null>;
}

/** Runs `trueup serve` (bundled) with `args`; the environment adds to this process's. */
export async function spawnServe(args: string[], env: Record<string, string>): Promise<ServeProcess> {
  const cli = await bundledCli();
  const child = spawn(process.execPath, [cli, 'serve', '--port', '0', ...args], {
    env: { ...process.env, TRUEUP_CONFIG: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stdout?.resume();
  const url = new Promise<string>((resolve, reject) => {
    child.stderr?.on('data', (d) => {
      err += d;
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) =>
      reject(new Error(`trueup serve exited (${code}) before listening:\n${err}`)),
    );
  });
  url.catch(() => {});
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stderr: () => err, url, exited };
}

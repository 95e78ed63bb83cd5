// Crash test: `trueup sync` (the real CLI, bundled with esbuild) is SIGKILLed at random points
// while a writer hammers the source, and restarted each time; at the end staging equals the
// source and no staged row ever went back to an older version. TRUEUP_CDC_KILLS sets the
// number of kills (default 5 to keep the suite fast; the 20 with TRUEUP_CDC_KILLS=20).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, serverUrl, type TestDatabase } from '../../support/database.js';
import { createSourceDatabase, type SourceDb } from './support.js';

const KILLS = Number(process.env.TRUEUP_CDC_KILLS ?? 5);
const ROOT = join(import.meta.dirname, '../../..');
// Inside the repository so the bundle resolves its external packages from node_modules.
const OUT = join(ROOT, 'node_modules/.cache/trueup-cdc-crash-test');

let staging: TestDatabase;
let src: SourceDb;
let bin: string;
beforeAll(async () => {
  staging = await createTestDatabase('crash');
  src = await createSourceDatabase(serverUrl());
  await mkdir(OUT, { recursive: true });
  bin = join(OUT, 'trueup.mjs');
  await build({
    entryPoints: [join(ROOT, 'pipeline/cli/bin.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile: bin,
    logLevel: 'silent',
  });
});
afterAll(async () => {
  await src?.drop();
  await staging?.drop();
});

function startSync(configFile: string, once: boolean): ChildProcess {
  return spawn(
    process.execPath,
    [bin, 'sync', '--tenant', 'acme', ...(once ? ['--once'] : []), '-c', configFile],
    {
      env: { ...process.env, TRUEUP_DATABASE_URL: staging.url, SOURCE_URL: src.url, TRUEUP_CONFIG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}

it(`sync survives ${KILLS} SIGKILLs during writes: staging equals the source, nothing regressed`, async () => {
  await src.pool.query(`CREATE TABLE orders (id int PRIMARY KEY, total numeric, state text)`);
  await src.pool.query(`INSERT INTO orders SELECT g, g, 'draft' FROM generate_series(1, 5000) g`);
  const configFile = join(OUT, `crash-${staging.name}.yaml`);
  await writeFile(
    configFile,
    `tenants:
  acme:
    systems:
      erp:
        kind: postgres
        role: erp
        connection: \${env:SOURCE_URL}
        stream: { maxGroupDelayMs: 20, backoffMinMs: 50, backoffMaxMs: 500, chunkRows: 300, maxGroupRows: 2000 }
        tables:
          - table: orders
            entity: order
            key: [id]
            fields:
              amount_total: { sql: "round(total, 2)" }
              status: state
`,
  );
  let writing = true;
  const writer = (async () => {
    let next = 5001;
    while (writing) {
      const id = 1 + Math.floor(Math.random() * (next - 1));
      await src.pool.query(
        `BEGIN; INSERT INTO orders SELECT g, g, 'new' FROM generate_series(${next}, ${next + 49}) g;
         UPDATE orders SET total = total + 1, state = 'sale' WHERE id BETWEEN ${id} AND ${id + 100};
         DELETE FROM orders WHERE id = ${id + 7}; COMMIT`,
      );
      next += 50;
    }
  })();
  const versions = new Map<string, bigint>();
  let regressions = 0;
  const snapshotVersions = async () => {
    const res = await staging.staging.pool.query(`SELECT source_id, version::text AS v FROM staging."order"`);
    for (const r of res.rows) {
      const v = BigInt(r.v);
      const prev = versions.get(r.source_id);
      if (prev !== undefined && v < prev) regressions++;
      versions.set(r.source_id, v);
    }
  };
  for (let k = 0; k < KILLS; k++) {
    const child = startSync(configFile, false);
    await new Promise((r) => setTimeout(r, 300 + Math.random() * 1200));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await snapshotVersions();
  }
  writing = false;
  await writer;
  const final = startSync(configFile, true);
  let stderr = '';
  final.stderr?.on('data', (d) => {
    stderr += d;
  });
  const code = await new Promise((r) => final.once('exit', r));
  expect(code, stderr).toBe(0);
  await snapshotVersions();
  const source = await src.pool.query(
    `SELECT id::text AS id, round(total, 2)::text AS total, state FROM orders ORDER BY 1`,
  );
  const staged = await staging.staging.pool.query(
    `SELECT source_id AS id, amount_total::text AS total, status AS state FROM staging."order"
      WHERE tenant_id = 'acme' AND deleted_at IS NULL ORDER BY 1`,
  );
  expect(staged.rows.length).toBe(source.rows.length);
  expect(staged.rows).toEqual(source.rows);
  expect(regressions).toBe(0);
}, 180_000);

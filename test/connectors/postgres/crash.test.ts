// Crash test: `trueup sync` (the compiled CLI from dist/, built by `npm test`) is SIGKILLed at random points
// while a writer hammers the source, and restarted each time; at the end staging equals the
// source and no staged row ever went back to an older version. TRUEUP_CDC_KILLS sets the
// number of kills (default 5 to keep the suite fast; the 20 with TRUEUP_CDC_KILLS=20).
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { serverUrl, useTestDatabase } from '../../support/database.js';
import {
  compiledCli,
  createSourceDatabase,
  finished,
  type SourceDb,
  spawnCli,
} from '../../support/postgres.js';
import { withSeed } from '../../support/seeded.js';

const KILLS = Number(process.env.TRUEUP_CDC_KILLS ?? 5);

const staging = useTestDatabase('crash');
let src: SourceDb;
let dir: string;
beforeAll(async () => {
  compiledCli(); // fail early, with the reason, when dist/ is missing or stale
  src = await createSourceDatabase(serverUrl());
  dir = await mkdtemp(join(tmpdir(), 'trueup-crash-'));
});
afterAll(async () => {
  await src?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function startSync(configFile: string, once: boolean): ChildProcess {
  return spawnCli(['sync', '--tenant', 'crash', ...(once ? ['--once'] : []), '-c', configFile], {
    TRUEUP_DATABASE_URL: staging.url,
    SOURCE_URL: src.url,
  });
}

// The writer's rows and the kill points are drawn from a seed that a failure prints
// (TRUEUP_TEST_SEED replays it).
it(
  `sync survives ${KILLS} SIGKILLs during writes: staging equals the source, nothing regressed`,
  () =>
    withSeed(async (random) => {
      await src.pool.query(`CREATE TABLE orders (id int PRIMARY KEY, total numeric, state text)`);
      await src.pool.query(`INSERT INTO orders SELECT g, g, 'draft' FROM generate_series(1, 5000) g`);
      const configFile = join(dir, 'trueup.yaml');
      await writeFile(
        configFile,
        `tenants:
  crash:
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
          const id = 1 + Math.floor(random() * (next - 1));
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
        const res = await staging.staging.pool.query(
          `SELECT source_id, version::text AS v FROM staging."order"`,
        );
        for (const r of res.rows) {
          const v = BigInt(r.v);
          const prev = versions.get(r.source_id);
          if (prev !== undefined && v < prev) regressions++;
          versions.set(r.source_id, v);
        }
      };
      for (let k = 0; k < KILLS; k++) {
        const child = startSync(configFile, false);
        await new Promise((r) => setTimeout(r, 300 + random() * 1200));
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        await snapshotVersions();
      }
      writing = false;
      await writer;
      const final = await finished(startSync(configFile, true));
      expect(final.code, final.stderr).toBe(0);
      await snapshotVersions();
      const source = await src.pool.query(
        `SELECT id::text AS id, trim_scale(round(total, 2))::text AS total, state FROM orders ORDER BY 1`,
      );
      const staged = await staging.staging.pool.query(
        `SELECT source_id AS id, amount_total::text AS total, status AS state FROM staging."order"
      WHERE tenant_id = 'crash' AND deleted_at IS NULL ORDER BY 1`,
      );
      expect(staged.rows.length).toBe(source.rows.length);
      expect(staged.rows).toEqual(source.rows);
      expect(regressions).toBe(0);
    }),
  180_000,
);

// `npm run bench [-- NAME…]`: runs every benchmark (or the named ones) against one embedded
// Postgres and prints one JSON line per measurement on stdout, then a table of them all.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { connectPostgres } from '../../pipeline/embedded/postgres-server.js';
import { openStaging } from '../../staging/database.js';
import { migrate } from '../../staging/migrate.js';
import type { BenchDefinition, Measurement } from './harness.js';
import { BENCHMARKS } from './registry.js';
import { benchTable } from './summary-table.js';

async function main() {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((w) => !BENCHMARKS.some((b) => b.name === w));
  if (unknown.length) {
    process.stderr.write(
      `unknown benchmark ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}\n`,
    );
    process.exit(2);
  }
  const selected: BenchDefinition[] = wanted.length
    ? BENCHMARKS.filter((b) => wanted.includes(b.name))
    : BENCHMARKS;
  const scale = Number(process.env.TRUEUP_BENCH_SCALE ?? '1');
  const folder = await mkdtemp(join(tmpdir(), 'trueup-bench-'));
  const server = await connectPostgres({
    url: process.env.TRUEUP_DATABASE_URL,
    embedded: {
      dataDir: join(folder, 'pg'),
      settings: { fsync: 'off', synchronous_commit: 'off', max_wal_size: '4GB' },
    },
  });
  const measured: Measurement[] = [];
  const failed: string[] = [];
  try {
    for (const bench of selected) {
      const workDir = await mkdtemp(join(folder, `${bench.name}-`));
      const opened: { close(): Promise<void> }[] = [];
      process.stderr.write(`bench ${bench.name}: ${bench.description}\n`);
      try {
        await bench.run({
          server,
          workDir,
          scale,
          async freshDatabase(name) {
            const db = `bench_${bench.name}_${name}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
            const admin = new pg.Client({ connectionString: server.url });
            await admin.connect();
            await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
            await admin.query(`CREATE DATABASE ${db}`);
            await admin.end();
            const url = server.urlFor(db);
            const staging = openStaging(url, { max: 8 });
            await migrate(staging.pool);
            opened.push(staging);
            return { url, staging };
          },
          emit(m) {
            const ratio = m.ratio ?? m.value / m.baseline_value;
            const line: Measurement = { bench: bench.name, ...m, ratio: Math.round(ratio * 1000) / 1000 };
            measured.push(line);
            process.stdout.write(`${JSON.stringify(line)}\n`);
          },
        });
      } catch (err) {
        failed.push(bench.name);
        process.stderr.write(`bench ${bench.name} failed: ${(err as Error).stack ?? err}\n`);
      } finally {
        for (const o of opened) await o.close();
      }
    }
  } finally {
    await server.release();
    await rm(folder, { recursive: true, force: true });
  }
  process.stdout.write(`\n${benchTable(measured, failed)}\n`);
  process.exit(failed.length ? 1 : 0);
}

await main();

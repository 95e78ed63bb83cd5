// Benchmark `cdc`: a 1M-row insert burst and 1M updates, end to end (decode → map → stage →
// ack) with the postgres connector, beside the raw receive rate of the same WAL through
// pg-logical-replication doing no work (a second slot created before the writes).

import pg from 'pg';
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';
import { postgresSystemConfig } from '../../pipeline/connectors/postgres/config.js';
import { runSource } from '../../pipeline/connectors/postgres/sync-source.js';
import { createLogger } from '../../pipeline/log/logger.js';
import { type BenchDefinition, timed } from './harness.js';

async function rawReceive(url: string, slot: string, publication: string, expected: number): Promise<number> {
  const service = new LogicalReplicationService(
    { connectionString: url },
    { acknowledge: { auto: false, timeoutSeconds: 0 } },
  );
  let seen = 0;
  const { ms } = await timed(
    () =>
      new Promise<void>((resolve, reject) => {
        service.on('data', (_lsn: string, msg: { tag: string }) => {
          if (msg.tag === 'insert' || msg.tag === 'update') seen++;
          if (seen >= expected) resolve();
        });
        service.on('error', reject);
        service
          .subscribe(new PgoutputPlugin({ protoVersion: 1, publicationNames: [publication] }), slot)
          .catch(reject);
      }),
  );
  await service.destroy();
  return ms;
}

/** The walsender of a destroyed service lingers a moment; the slot can be dropped once it is inactive. */
async function dropWhenIdle(client: pg.Client, slot: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
      return;
    } catch (err) {
      if (i > 100 || !/is active/.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export const cdcBench: BenchDefinition = {
  name: 'cdc',
  description: 'postgres CDC end to end (1M inserts, 1M updates) vs raw pgoutput receive of the same WAL',
  async run(ctx) {
    const n = Math.round(1_000_000 * ctx.scale);
    const { staging } = await ctx.freshDatabase('staging');
    const srcName = `cdc_src_${Date.now()}`;
    const admin = new pg.Client({ connectionString: ctx.server.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${srcName}`);
    await admin.end();
    const url = ctx.server.urlFor(srcName);
    const src = new pg.Client({ connectionString: url });
    await src.connect();
    await src.query('CREATE TABLE orders (id int PRIMARY KEY, name text, total numeric, state text)');
    const config = {
      ...postgresSystemConfig.parse({
        kind: 'postgres',
        role: 'erp',
        connection: '${env:X}',
        slot: 'bench_slot',
        publication: 'bench_pub',
        tables: [
          {
            table: 'orders',
            entity: 'order',
            key: ['id'],
            fields: { number: 'name', amount_total: { sql: 'round(total, 2)' }, status: 'state' },
          },
        ],
      }),
      connection: url,
    };
    const logger = createLogger({ level: 'warn', pretty: false });
    const sync = () => runSource({ tenant: 'bench', system: 'erp', config, staging, logger, once: true });
    await sync(); // creates slot + publication, empty snapshot
    try {
      for (const [phase, sql] of [
        [
          'insert',
          `INSERT INTO orders SELECT g, 'SO' || g, g * 1.5, 'draft' FROM generate_series(1, ${n}) g`,
        ],
        ['update', `UPDATE orders SET total = total + 1, state = 'sale'`],
      ] as const) {
        await src.query(`SELECT pg_create_logical_replication_slot('bench_raw', 'pgoutput')`);
        await src.query(sql);
        const raw = await rawReceive(url, 'bench_raw', 'bench_pub', n);
        await dropWhenIdle(src, 'bench_raw');
        const cpu = process.cpuUsage();
        const e2e = await timed(sync);
        const { user, system } = process.cpuUsage(cpu);
        const rate = (n * 1000) / e2e.ms;
        const rawRate = (n * 1000) / raw;
        ctx.emit({
          metric: `${phase}_rows_per_s`,
          value: Math.round(rate),
          unit: 'rows/s',
          baseline: 'raw pg-logical-replication receive (no work)',
          baseline_value: Math.round(rawRate),
          better: 'higher',
          rows: n,
          // Where the time goes on a small machine: this process's CPU for the end-to-end run.
          node_cpu_s: Math.round((user + system) / 1e4) / 100,
          e2e_s: Math.round(e2e.ms / 10) / 100,
          raw_s: Math.round(raw / 10) / 100,
        });
      }
    } finally {
      await src.end();
      const c = new pg.Client({ connectionString: ctx.server.url });
      await c.connect();
      await c.query(
        `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1`,
        [srcName],
      );
      await c.query(`DROP DATABASE IF EXISTS ${srcName} WITH (FORCE)`);
      await c.end();
    }
  },
};

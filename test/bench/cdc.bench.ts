// Benchmark `cdc`: a 1M-row insert burst and 1M updates, end to end (decode → map → stage →
// ack) with the postgres connector, beside the raw receive rate of the same WAL through
// pg-logical-replication doing no work (a second slot created before the writes).

import pg from 'pg';
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';
import { postgresSystemConfig } from '../../pipeline/connectors/postgres/config.js';
import { runSource } from '../../pipeline/connectors/postgres/sync-source.js';
import { createLogger } from '../../pipeline/log/logger.js';
import { copyRows } from '../../staging/copy-csv.js';
import type { Change } from '../../staging/model/change.js';
import { stageUnit } from '../../staging/stage.js';
import { type BenchDefinition, check, timed } from './harness.js';

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

const UNIT = 5_000;

/** The source rows as the bench's INSERT (or its UPDATE) leaves them, in units of UNIT rows. */
function* units(n: number, update: boolean) {
  for (let lo = 1; lo <= n; lo += UNIT) {
    const unit = [];
    for (let g = lo; g < Math.min(n + 1, lo + UNIT); g++) {
      const total = g * 1.5 + (update ? 1 : 0);
      const raw = { id: `${g}`, name: `SO${g}`, total: `${total}`, state: update ? 'sale' : 'draft' };
      unit.push({ g, raw, amount: total.toFixed(2), version: update ? 2 : 1 });
    }
    yield unit;
  }
}

/**
 * The staging stage alone: the same n changes as the connector maps them, staged straight through
 * the one write path in units of the connector's default size, one after another (as the
 * connector's one staging connection does). No decoding, no source: the ceiling of any end-to-end
 * rate on this machine — the end-to-end run does all of this and more, on the same cores.
 */
async function stagingAlone(
  staging: Parameters<typeof stageUnit>[0],
  n: number,
  update: boolean,
): Promise<number> {
  const { ms } = await timed(async () => {
    for (const unit of units(n, update)) {
      const changes: Change[] = unit.map(({ raw, amount, version }) => ({
        sourceId: raw.id,
        version: BigInt(version),
        op: 'upsert',
        fields: { number: raw.name, amount_total: amount, status: raw.state },
        raw,
      }));
      await stageUnit(staging, { tenant: 'ceiling', system: 'erp', batches: [{ entity: 'order', changes }] });
    }
  });
  await checkStaged(staging, 'ceiling', n, update, 'the staging stage alone');
  return ms;
}

/**
 * Fails the benchmark unless `tenant`'s staged orders are exactly the n rows the bench's INSERT
 * (or UPDATE) leaves at the source: every id, with its status and amount.
 */
async function checkStaged(
  staging: Parameters<typeof stageUnit>[0],
  tenant: string,
  n: number,
  update: boolean,
  what: string,
): Promise<void> {
  const res = await staging.query<{ rows: number; right: number }>(
    `SELECT count(*)::int AS rows,
            count(*) FILTER (WHERE deleted_at IS NULL AND status = $2 AND number = 'SO' || source_id
                               AND amount_total = round(source_id::int * 1.5 + $3, 2))::int AS right
       FROM staging."order" WHERE tenant_id = $1 AND system = 'erp'`,
    [tenant, update ? 'sale' : 'draft', update ? 1 : 0],
  );
  const { rows, right } = res.rows[0]!;
  check(
    rows === n && right === n,
    `cdc: after the ${update ? 'update' : 'insert'} phase, ${what} staged ${rows} rows of which ${right} hold the source's values; expected ${n}`,
  );
}

/**
 * Below even that: Postgres storing the same rows with nothing else to do — a plain COPY into a
 * table shaped and indexed like staging."order" for the inserts, then a plain UPDATE … FROM of
 * every row (input COPYed into a temp table) for the updates: no validation, no version guard,
 * no merge, in the same units. Returns ms.
 */
async function bareStore(
  staging: Parameters<typeof stageUnit>[0],
  n: number,
  update: boolean,
): Promise<number> {
  if (!update) {
    await staging.query('DROP TABLE IF EXISTS public.bench_bare');
    await staging.query(
      'CREATE TABLE public.bench_bare (LIKE staging."order" INCLUDING DEFAULTS INCLUDING INDEXES)',
    );
  }
  const cols = ['source_id', 'number', 'amount_total', 'status', 'raw', 'version', 'staged_seq'];
  const { ms } = await timed(async () => {
    for (const unit of units(n, update)) {
      const rows = unit.map(({ g, raw, amount, version }) => [
        raw.id,
        raw.name,
        amount,
        raw.state,
        JSON.stringify(raw),
        version,
        g,
      ]);
      const client = await staging.connect();
      try {
        if (!update) {
          await copyRows(
            client,
            'public.bench_bare',
            ['tenant_id', 'system', ...cols],
            rows.map((r) => ['bare', 'erp', ...r]),
          );
        } else {
          await client.query('BEGIN');
          await client.query(
            `CREATE TEMP TABLE IF NOT EXISTS bare_in (source_id text, number text, amount_total numeric,
               status text, raw jsonb, version bigint, staged_seq bigint) ON COMMIT DELETE ROWS`,
          );
          await copyRows(client, 'bare_in', cols, rows);
          await client.query(
            `UPDATE public.bench_bare t SET number = i.number, amount_total = i.amount_total, status = i.status,
                    raw = i.raw, version = i.version, staged_seq = i.staged_seq + ${n}
               FROM bare_in i WHERE t.tenant_id = 'bare' AND t.system = 'erp' AND t.source_id = i.source_id`,
          );
          await client.query('COMMIT');
        }
      } finally {
        client.release();
      }
    }
  });
  const stored = await staging.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM public.bench_bare WHERE version = $1`,
    [update ? 2 : 1],
  );
  check(
    stored.rows[0]!.n === n,
    `cdc: the bare store holds ${stored.rows[0]!.n} rows at the phase's version, not ${n}`,
  );
  if (update) await staging.query('DROP TABLE public.bench_bare');
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
    const first = await sync(); // creates slot + publication, empty snapshot
    check(
      first.outcome === 'caught_up',
      `cdc: the first sync ended ${first.outcome}: ${first.error?.message}`,
    );
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
        check(
          e2e.result.outcome === 'caught_up',
          `cdc: the ${phase} sync ended ${e2e.result.outcome}: ${e2e.result.error?.message}`,
        );
        await checkStaged(staging.pool, 'bench', n, phase === 'update', 'the connector');
        const alone = await stagingAlone(staging.pool, n, phase === 'update');
        const rate = (n * 1000) / e2e.ms;
        const rawRate = (n * 1000) / raw;
        const aloneRate = (n * 1000) / alone;
        const bare = await bareStore(staging.pool, n, phase === 'update');
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
          // The staging stage alone (stagingAlone): no end-to-end rate can pass it here.
          staging_alone_rows_per_s: Math.round(aloneRate),
          staging_alone_share_of_raw: Math.round((aloneRate / rawRate) * 1000) / 1000,
          e2e_share_of_staging_alone: Math.round((rate / aloneRate) * 1000) / 1000,
          // Postgres alone storing the same rows (bareStore): below even the staging stage.
          bare_store_rows_per_s: Math.round((n * 1000) / bare),
          bare_store_share_of_raw: Math.round(((n * 1000) / bare / rawRate) * 1000) / 1000,
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

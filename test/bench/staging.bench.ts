// Benchmark `staging`: the version-guarded upsert path for 1M customer rows (insert, then an
// update of every row), beside a plain COPY of the same rows into an unindexed table.

import { copyRows } from '../../staging/copy-csv.js';
import { inTransaction } from '../../staging/database.js';
import type { Change } from '../../staging/model/change.js';
import { stageUnit } from '../../staging/stage.js';
import type { WriteResult } from '../../staging/write-changes.js';
import { type BenchDefinition, check, timed } from './harness.js';

const BATCH = 20_000;

function customers(from: number, to: number, version: bigint): Change[] {
  const out: Change[] = [];
  for (let i = from; i < to; i++) {
    const fields = {
      name: `Customer ${i} v${version}`,
      email: `c${i}@example.com`,
      tax_id: `DE${100000000 + i}`,
      currency: 'EUR',
      credit_limit: `${(i % 5000) * 10}.00`,
      payment_terms: 'net30',
    };
    out.push({ sourceId: `C${i}`, version, op: 'upsert', fields, raw: fields });
  }
  return out;
}

export const stagingBench: BenchDefinition = {
  name: 'staging',
  description:
    'upsert throughput for 1M customers (insert, then update) vs plain COPY into an unindexed table',
  async run(ctx) {
    const n = Math.round(1_000_000 * ctx.scale);
    const { staging } = await ctx.freshDatabase('main');
    const pool = staging.pool;

    // Baseline: the same rows, COPY into an unindexed table with the same columns.
    await pool.query('CREATE TABLE copy_baseline (LIKE staging.customer INCLUDING DEFAULTS)');
    const base = await timed(async () => {
      for (let from = 0; from < n; from += BATCH) {
        const rows = customers(from, Math.min(n, from + BATCH), 1n);
        await inTransaction(pool, (client) =>
          copyRows(
            client,
            'copy_baseline',
            [
              'tenant_id',
              'system',
              'source_id',
              'name',
              'email',
              'tax_id',
              'currency',
              'credit_limit',
              'payment_terms',
              'raw',
              'version',
              'staged_seq',
            ],
            rows.map((c, i) => {
              const f = c.fields as Record<string, string>;
              return [
                'bench',
                'crm',
                c.sourceId,
                f.name!,
                f.email!,
                f.tax_id!,
                f.currency!,
                f.credit_limit!,
                f.payment_terms!,
                JSON.stringify(c.raw),
                c.version,
                from + i,
              ];
            }),
          ),
        );
      }
    });
    const copyRate = n / (base.ms / 1000);
    const copied = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM copy_baseline');
    check(copied.rows[0]!.n === n, `staging: the COPY baseline holds ${copied.rows[0]!.n} rows, not ${n}`);

    const stage = (version: bigint) =>
      timed(async () => {
        const sum: WriteResult = { received: 0, inserted: 0, updated: 0, ignored: 0, deadLettered: 0 };
        for (let from = 0; from < n; from += BATCH) {
          const res = await stageUnit(pool, {
            tenant: 'bench',
            system: 'crm',
            batches: [{ entity: 'customer', changes: customers(from, Math.min(n, from + BATCH), version) }],
            checkpoints: [{ stream: 'bench', position: { from } }],
          });
          for (const r of Object.values(res))
            for (const k of Object.keys(sum) as (keyof WriteResult)[]) sum[k] += r[k];
        }
        return sum;
      });
    // What staging holds after each pass: every row at `version` with that version's name, and a
    // fingerprint that a pass writing nothing leaves as it was (staged_seq moves on every write).
    const holds = async (version: bigint) => {
      const res = await pool.query<{ n: number; at: number; named: number; seq: string; hash: string }>(
        `SELECT count(*)::int AS n, count(*) FILTER (WHERE version = $1)::int AS at,
                count(*) FILTER (WHERE name = 'Customer ' || substr(source_id, 2) || ' v' || $1)::int AS named,
                max(staged_seq)::text AS seq, sum(hashtext(source_id || version || name || staged_seq))::text AS hash
           FROM staging.customer WHERE tenant_id = 'bench' AND system = 'crm' AND deleted_at IS NULL`,
        [String(version)],
      );
      const r = res.rows[0]!;
      check(
        r.n === n && r.at === n && r.named === n,
        `staging: after staging version ${version}, ${r.n} rows are staged, ${r.at} at that version and ${r.named} with its values; expected ${n} each`,
      );
      return `${r.seq}/${r.hash}`;
    };
    const expectWrites = (what: string, got: WriteResult, want: Partial<WriteResult>) => {
      const full = { received: n, inserted: 0, updated: 0, ignored: 0, deadLettered: 0, ...want };
      check(
        JSON.stringify(got) === JSON.stringify(full),
        `staging: the ${what} pass wrote ${JSON.stringify(got)}, expected ${JSON.stringify(full)}`,
      );
    };
    const insert = await stage(1n);
    expectWrites('insert', insert.result, { inserted: n });
    await holds(1n);
    const update = await stage(2n);
    expectWrites('update', update.result, { updated: n });
    const before = await holds(2n);
    const replay = await stage(2n);
    expectWrites('replay', replay.result, { ignored: n });
    check((await holds(2n)) === before, 'staging: replaying the same versions changed staged rows');
    for (const [metric, t] of [
      ['upsert_insert_rows_per_s', insert],
      ['upsert_update_rows_per_s', update],
      ['replay_ignored_rows_per_s', replay],
    ] as const) {
      ctx.emit({
        metric,
        value: Math.round(n / (t.ms / 1000)),
        unit: 'rows/s',
        baseline: 'plain COPY into an unindexed table',
        baseline_value: Math.round(copyRate),
        better: 'higher',
        rows: n,
      });
    }
  },
};

// Benchmark `staging`: the version-guarded upsert path for 1M customer rows (insert, then an
// update of every row), beside a plain COPY of the same rows into an unindexed table.

import { copyRows } from '../../staging/copy-csv.js';
import { inTransaction } from '../../staging/database.js';
import type { Change } from '../../staging/model/change.js';
import { stageUnit } from '../../staging/stage.js';
import { type BenchDefinition, timed } from './harness.js';

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

    const stage = (version: bigint) =>
      timed(async () => {
        for (let from = 0; from < n; from += BATCH) {
          await stageUnit(pool, {
            tenant: 'bench',
            system: 'crm',
            batches: [{ entity: 'customer', changes: customers(from, Math.min(n, from + BATCH), version) }],
            checkpoints: [{ stream: 'bench', position: { from } }],
          });
        }
      });
    const insert = await stage(1n);
    const update = await stage(2n);
    const replay = await stage(2n);
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

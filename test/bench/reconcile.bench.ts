// Benchmark `reconcile`: 2M × 2M customers (TRUEUP_BENCH_SCALE scales it), 0.25 % differing,
// all on the same staged data: (a) full reconcile with a cold mirror, (b) full with a warm
// mirror, (c) incremental after 1 % churn — kept in sync on both sides, then on the CRM side
// only (every churned record a new discrepancy) — and an incremental run with nothing changed
// (the fixed cost of a run), against (d) a hand-written Postgres FULL OUTER JOIN diff over the
// same staging rows. Wall time, peak RSS, the job's time per phase and the load average for
// each; ratios to (d). Runs share one pool, as `trueup serve` would: its worker thread and the
// mirror it holds open stay up between runs. After every run the open discrepancies must be
// exactly the records (d) finds, by match key, and no job may have failed.
import { mkdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../pipeline/config/load-config.js';
import {
  type GenerateOptions,
  generateEntityChunks,
  generatorTenantConfig,
} from '../../pipeline/generator/ground-truth.js';
import { stageGeneratedTenant, toUpsert } from '../../pipeline/generator/stage-generated.js';
import { createReconcilePool } from '../../reconcilers/pool/reconcile-pool.js';
import { reconcileTenant } from '../../reconcilers/run/reconcile-tenant.js';
import { ENTITY_FIELDS } from '../../staging/model/entities.js';
import { stageUnit } from '../../staging/stage.js';
import { type BenchDefinition, check, checkSameSet, peakRss, timed } from './harness.js';

const NONE = {
  missing_in_erp: 0.0005,
  missing_in_crm: 0.0005,
  field_mismatch: 0.0015,
  duplicate_match: 0,
  deleted_in_one: 0,
  edge_cases: 0,
  business_key_only: 0,
  xref_only: 0,
  both_deleted: 0,
  lone_deleted: 0,
};

/** The compared customer fields: every canonical field but the link fields (mirror-layout.ts). */
const COMPARED = ENTITY_FIELDS.customer.map((d) => d.name).filter((n) => n !== 'crm_ref' && n !== 'erp_ref');

export const reconcileBench: BenchDefinition = {
  name: 'reconcile',
  description:
    'reconcile 2M × 2M customers (cold mirror, warm mirror, incremental after 1% churn in sync and one-sided) vs a Postgres FULL OUTER JOIN diff',
  async run(ctx) {
    const n = Math.max(1000, Math.round(2_000_000 * ctx.scale));
    const { url, staging } = await ctx.freshDatabase('reconcile');
    const tenant = 'bench';
    const gen: GenerateOptions = {
      tenant,
      seed: 1,
      counts: { customer: n },
      rates: NONE,
      currencies: ['USD', 'EUR'],
      overrides: { valueMaps: false },
    };
    await stageGeneratedTenant(staging.pool, gen, { entities: ['customer'], chunkSize: 20_000 });
    await staging.pool.query('ANALYZE staging.customer');
    const cfg = validateConfig({ tenants: { [tenant]: generatorTenantConfig(gen) } }, 'bench', {}).tenants[
      tenant
    ]!;
    const dataDir = join(ctx.workDir, 'data');
    await mkdir(dataDir, { recursive: true });
    const pool = createReconcilePool({ threads: 1 });
    const reconcileOnce = (mode: 'full' | 'incremental', rebuildMirror: boolean) =>
      reconcileTenant({
        tenant,
        tenantConfig: cfg,
        staging,
        stagingUrl: url,
        dataDir,
        pool,
        entities: ['customer'],
        mode,
        rebuildMirror,
        confirm: { waitMs: 0 },
        duckdbThreads: 2,
      });
    // The 1-minute load average when a run starts: on shared cores it explains a lot of variance.
    const run = (mode: 'full' | 'incremental', rebuildMirror: boolean) =>
      peakRss(async () => ({
        load: loadavg()[0]!,
        ...(await timed(() => reconcileOnce(mode, rebuildMirror))),
      }));

    // (d) baseline: the diff a careful engineer writes by hand in Postgres, over the same staged
    // rows: live records joined on the business key, compared field by field after trimming and
    // case-folding. On this data it finds exactly the records reconciliation reports (checked
    // below: `same_records`). Measured twice, before and after the runs; the faster one counts.
    const norm = (a: string, f: string) => `lower(trim(${a}.${f}::text))`;
    const baselineSql = `SELECT count(*)::int AS n FROM (SELECT * FROM staging.customer WHERE tenant_id = $1 AND system = 'crm' AND deleted_at IS NULL) c
             FULL OUTER JOIN (SELECT * FROM staging.customer WHERE tenant_id = $1 AND system = 'erp' AND deleted_at IS NULL) e
               ON lower(trim(c.email)) = lower(trim(e.email))
            WHERE c.source_id IS NULL OR e.source_id IS NULL
               OR (${COMPARED.map((f) => norm('c', f)).join(', ')}) IS DISTINCT FROM (${COMPARED.map((f) => norm('e', f)).join(', ')})`;
    const runBaseline = () =>
      peakRss(() => timed(() => staging.pool.query<{ n: number }>(baselineSql, [tenant])));
    // The same diff as a set of match keys (classify.ts pairKey/loneKey), untimed: what every run
    // must leave open.
    const expectedKeys = async () =>
      (
        await staging.pool.query<{ key: string }>(
          `SELECT CASE WHEN c.source_id IS NULL THEN 'E:' || e.source_id
                       WHEN e.source_id IS NULL THEN 'C:' || c.source_id
                       ELSE 'C:' || c.source_id || '|E:' || e.source_id END AS key
             ${baselineSql.slice(baselineSql.indexOf('FROM'))}`,
          [tenant],
        )
      ).rows.map((r) => r.key);
    const openKeys = async () =>
      (
        await staging.pool.query<{ key: string }>(
          `SELECT DISTINCT match_key AS key FROM control.discrepancies WHERE tenant_id = $1 AND status = 'open'`,
          [tenant],
        )
      ).rows.map((r) => r.key);
    /** The run succeeded and left open exactly the records the hand-written diff finds now. */
    const verify = async (metric: string, r: Awaited<ReturnType<typeof run>>) => {
      const summary = r.result.result;
      check(
        summary.status === 'succeeded' && !summary.errors.length,
        `reconcile: ${metric}: the run ${summary.status}: ${JSON.stringify(summary.errors)}`,
      );
      const want = await expectedKeys();
      checkSameSet(`reconcile: ${metric}: open discrepancies vs the Postgres diff`, want, await openKeys());
      return new Set(want);
    };
    const baseline1 = await runBaseline();
    const baselineRecords = baseline1.result.result.rows[0]?.n ?? -1;
    const initialKeys = new Set(await expectedKeys());
    check(
      initialKeys.size === baselineRecords && baselineRecords > 0,
      `reconcile: the diff counts ${baselineRecords} records but lists ${initialKeys.size}`,
    );
    const results: { metric: string; r: Awaited<ReturnType<typeof run>>; extra: Record<string, unknown> }[] =
      [];
    try {
      const cold = await run('full', true);
      await verify('full_cold_mirror_ms', cold);
      results.push({ metric: 'full_cold_mirror_ms', r: cold, extra: { same_records: true } });
      const warm = await run('full', false);
      await verify('full_warm_mirror_ms', warm);
      results.push({ metric: 'full_warm_mirror_ms', r: warm, extra: { same_records: true } });
      const baseline2 = await runBaseline();
      const baseline = baseline2.result.ms < baseline1.result.ms ? baseline2 : baseline1;

      // 1 % churn kept in sync: new versions of 1 % of the pairs on both sides with the same new
      // value — what a nightly run mostly sees. No new discrepancy.
      const churn = Math.max(1, Math.round(n / 100));
      const stride = Math.floor(n / churn);
      const index = (id: string) => Number(id.slice(id.lastIndexOf('-') + 1));
      for (const chunk of generateEntityChunks(gen, 'customer', { chunkSize: 50_000 }))
        for (const [system, records] of [
          ['crm', chunk.crm],
          ['erp', chunk.erp],
        ] as const) {
          const changes = records
            .filter((r) => index(r.sourceId) % stride === Math.floor(stride / 2))
            .map((r) => {
              const c = toUpsert(r);
              return {
                ...c,
                version: c.version + 10n,
                fields: { ...r.fields, owner: `synced ${index(r.sourceId)}` },
              };
            });
          if (changes.length)
            await stageUnit(staging.pool, { tenant, system, batches: [{ entity: 'customer', changes }] });
        }
      const synced = await run('incremental', false);
      // Kept in sync on both sides: not one discrepancy more or less than before.
      checkSameSet(
        'reconcile: incremental after synced churn: the records that differ',
        initialKeys,
        await verify('incremental_after_1pct_synced_churn_ms', synced),
      );
      const phase = (r: typeof synced, name: string) =>
        r.result.result.entities[0]?.timings.phases?.[name] ?? 0;
      results.push({
        metric: 'incremental_after_1pct_synced_churn_ms',
        r: synced,
        extra: {
          churned_pairs: churn,
          speedup_vs_warm_full: Number((warm.result.ms / synced.result.ms).toFixed(2)),
          // The target is 10× faster than the warm full run. The refresh alone (reading
          // the changed rows from staging and replacing them in the DuckDB mirror) is work every
          // incremental run must do before scoping, matching, comparing and writing.
          target_ms: Math.round(warm.result.ms / 10),
          refresh_ms: Math.round(phase(synced, 'refresh.copy') + phase(synced, 'refresh.apply')),
        },
      });
      // 1 % churn on the CRM side only: a new version of 1 % of the CRM customers, half of them
      // with a changed credit limit — every one becomes a new field_mismatch (4× the discrepancies
      // the full runs above report, each read, classified and written).
      const churnedCrm: string[] = [];
      for (const chunk of generateEntityChunks(gen, 'customer', { chunkSize: 50_000 })) {
        const changes = chunk.crm
          .filter((r) => index(r.sourceId) % stride === 0)
          .map((r, i) => {
            const c = toUpsert(r);
            return {
              ...c,
              version: c.version + 20n,
              fields: { ...r.fields, ...(i % 2 ? { credit_limit: '1.00' } : { owner: `churned ${i}` }) },
            };
          });
        churnedCrm.push(...changes.map((c) => c.sourceId));
        if (changes.length)
          await stageUnit(staging.pool, {
            tenant,
            system: 'crm',
            batches: [{ entity: 'customer', changes }],
          });
      }
      const inc = await run('incremental', false);
      // Every churned CRM record now differs from its ERP partner (or still lacks one).
      const afterChurn = await verify('incremental_after_1pct_churn_ms', inc);
      const differing = new Set(
        [...afterChurn].filter((k) => k.startsWith('C:')).map((k) => k.slice(2).split('|')[0]),
      );
      const quiet = churnedCrm.filter((id) => !differing.has(id));
      check(
        churnedCrm.length > 0 && !quiet.length,
        `reconcile: ${quiet.length} of ${churnedCrm.length} CRM records changed on one side are not open discrepancies (${quiet.slice(0, 5).join(', ')})`,
      );
      results.push({
        metric: 'incremental_after_1pct_churn_ms',
        r: inc,
        extra: {
          churned_rows: churn,
          speedup_vs_warm_full: Number((warm.result.ms / inc.result.ms).toFixed(2)),
        },
      });
      const idle = await run('incremental', false);
      checkSameSet(
        'reconcile: incremental with nothing changed: the records that differ',
        afterChurn,
        await verify('incremental_nothing_changed_ms', idle),
      );
      results.push({
        metric: 'incremental_nothing_changed_ms',
        r: idle,
        extra: { speedup_vs_warm_full: Number((warm.result.ms / idle.result.ms).toFixed(2)) },
      });
      for (const { metric, r, extra } of results)
        ctx.emit({
          metric,
          value: Math.round(r.result.ms),
          unit: 'ms',
          baseline: 'Postgres FULL OUTER JOIN diff of the same staging rows',
          baseline_value: Math.round(baseline.result.ms),
          better: 'lower',
          rows_per_side: n,
          peak_rss_mib: Math.round(r.peakMiB),
          baseline_peak_rss_mib: Math.round(baseline.peakMiB),
          baseline_records: baselineRecords,
          load_avg_1m: Number(r.result.load.toFixed(2)),
          discrepancies: r.result.result.totals.discrepancies,
          entity: r.result.result.entities[0] && {
            mode: r.result.result.entities[0].mode,
            scope: r.result.result.entities[0].scope,
            wideRows: r.result.result.entities[0].wideRows,
            mirror: r.result.result.entities[0].mirror,
            timings: r.result.result.entities[0].timings,
          },
          ...extra,
        });
    } finally {
      await pool.close();
    }
  },
};

// `trueup reconcile`: reconciles one tenant (or all) — one job per entity on the worker pool —
// prints a summary table (with each side's open dead letters and completeness) and writes
// summary.json into the run's output folder.
import type { Command } from 'commander';
import type { JobResult } from '../../../reconcilers/pool/job-protocol.js';
import { createReconcilePool } from '../../../reconcilers/pool/reconcile-pool.js';
import { reconcileTenant } from '../../../reconcilers/run/reconcile-tenant.js';
import type { RunSummary } from '../../../reconcilers/run/run-summary.js';
import { writeRunReports } from '../../../reports/write-run-reports.js';
import { CLASS_COLUMN, DISCREPANCY_CLASSES } from '../../../staging/control/discrepancy-states.js';
import { ENTITIES, type Entity, isEntity } from '../../../staging/model/entities.js';
import { redact } from '../../config/secrets.js';
import { type CliContext, configuredTenant, UsageError } from '../cli-context.js';
import { formatTable } from '../format-table.js';
import { createProgress, type Progress } from '../progress.js';
import { reportSystems } from './report.js';

interface Options {
  tenant?: string;
  allTenants?: boolean;
  entity?: string[];
  full?: boolean;
  rebuildMirror?: boolean;
  failOn?: 'material' | 'any';
  allowIncomplete?: boolean;
  confirmWait: string;
  json?: boolean;
}

export function registerReconcileCommand(program: Command, ctx: CliContext): void {
  program
    .command('reconcile')
    .description('compare CRM and ERP data of a tenant, record discrepancies and propose corrections')
    .option('--tenant <id>', 'the tenant to reconcile')
    .option('--all-tenants', 'reconcile every configured tenant (one failure does not stop the others)')
    .option('--entity <name...>', `only these entities (${ENTITIES.join(', ')})`)
    .option('--full', 'compare everything, not only what changed since the last run')
    .option('--rebuild-mirror', 'rebuild the local mirrors from staging (implies --full)')
    .option(
      '--fail-on <threshold>',
      'exit 1 when there is a material discrepancy ("material") or any ("any") not accepted by a reviewer',
    )
    .option(
      '--allow-incomplete',
      'with --fail-on: do not fail because a side could not stage more than sync.maxDeadLetterShare of its records',
    )
    .option(
      '--confirm-wait <ms>',
      'how long in-flight confirmation waits for live sources to catch up',
      '10000',
    )
    .option('--json', 'print the run summaries as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ trueup reconcile --tenant acme
  $ trueup reconcile --tenant acme --entity invoice payment --full --fail-on material
  $ trueup reconcile --all-tenants --fail-on any

Each run writes <dataDir>/runs/<tenant>/<run id>/summary.json. The table shows per entity the
open dead letters of each side (records that could not be staged) and how complete the sides are;
a record whose counterpart is a dead letter is "unverifiable", not missing. With --fail-on, a side
whose dead letters exceed sync.maxDeadLetterShare (default 0.01) of its records fails the run too,
unless --allow-incomplete. Exit codes: 0 ok, 1 a tenant failed, --fail-on was crossed or a side is
incomplete, 2 usage error.`,
    )
    .action(async (opts: Options, cmd: Command) => {
      if (!opts.tenant === !opts.allTenants)
        throw new UsageError('give either --tenant <id> or --all-tenants');
      if (opts.failOn && opts.failOn !== 'material' && opts.failOn !== 'any')
        throw new UsageError(`--fail-on must be "material" or "any", not ${JSON.stringify(opts.failOn)}`);
      const entities = opts.entity?.map((e) => {
        if (!isEntity(e)) throw new UsageError(`unknown entity "${e}" (known: ${ENTITIES.join(', ')})`);
        return e as Entity;
      });
      const confirmWait = Number(opts.confirmWait);
      if (!Number.isInteger(confirmWait) || confirmWait < 0)
        throw new UsageError('--confirm-wait must be a whole number of milliseconds');
      await ctx.withRuntime(cmd, async (rt) => {
        const tenants = opts.allTenants ? Object.keys(rt.config.tenants) : [opts.tenant!];
        for (const t of tenants) configuredTenant(rt.config, t);
        const pool = createReconcilePool({
          ...(rt.config.workers.threads ? { threads: rt.config.workers.threads } : {}),
          jobTimeoutMs: rt.config.workers.jobTimeoutMs,
        });
        const summaries: RunSummary[] = [];
        const failures: { tenant: string; message: string }[] = [];
        try {
          for (const tenant of tenants) {
            const log = rt.logger.child({ tenant, component: 'reconcile' });
            try {
              let progress: Progress | undefined;
              let s: Awaited<ReturnType<typeof reconcileTenant>>;
              try {
                s = await reconcileTenant({
                  onEntityDone: (_entity, done, total) => {
                    progress ??= createProgress(`reconcile ${tenant}`, {
                      total,
                      unit: 'entities',
                      finalOnlyIfLong: true,
                    });
                    progress.update(done);
                  },
                  tenant,
                  tenantConfig: rt.config.tenants[tenant]!,
                  staging: rt.staging,
                  stagingUrl: rt.server.url,
                  dataDir: rt.dataDir,
                  pool,
                  ...(entities ? { entities } : {}),
                  mode: opts.full || opts.rebuildMirror ? 'full' : 'incremental',
                  rebuildMirror: opts.rebuildMirror ?? false,
                  confirm: { waitMs: confirmWait },
                  // A config built in code (tests, embedders) may have no `reconcile` section.
                  ...(rt.config.reconcile?.memoryLimit
                    ? { memoryLimit: rt.config.reconcile.memoryLimit }
                    : {}),
                });
              } finally {
                progress?.stop('reconciled');
              }
              summaries.push(s);
              // The run's report files (html, xlsx, csv, parquet) beside summary.json (docs/reports.md).
              try {
                const systems = reportSystems(tenant, rt.config.tenants[tenant]!);
                await writeRunReports(rt.staging.pool, { tenant, runId: s.runId, systems, dir: s.outputDir });
              } catch (err) {
                log.error({ err, runId: s.runId }, 'writing the run reports failed');
                failures.push({
                  tenant,
                  message: `writing the reports of run ${s.runId}: ${(err as Error).message}`,
                });
              }
              for (const e of s.errors) failures.push({ tenant, message: `${e.entity}: ${e.message}` });
              log.info({ runId: s.runId, totals: s.totals, status: s.status }, 'reconcile finished');
            } catch (err) {
              log.error({ err }, 'reconcile failed');
              failures.push({ tenant, message: (err as Error).message });
            }
          }
        } finally {
          await pool.close();
        }
        // With --json, stdout holds only the JSON (scripts parse it); failures go to stderr.
        if (opts.json) ctx.out(`${JSON.stringify(summaries, null, 2)}\n`);
        else printSummaries(ctx, summaries);
        for (const f of failures)
          (opts.json ? ctx.err : ctx.out)(redact(`FAILED ${f.tenant}: ${f.message}\n`));
        const crossed = summaries.some((s) =>
          opts.failOn === 'material'
            ? s.totals.material - s.totals.acceptedMaterial > 0
            : opts.failOn === 'any'
              ? s.totals.discrepancies - s.totals.accepted > 0
              : false,
        );
        // An incomplete side makes every count of its entity doubtful: --fail-on fails on it.
        const incomplete =
          opts.failOn && !opts.allowIncomplete ? summaries.flatMap((s) => incompleteLines(s)) : [];
        for (const line of incomplete) (opts.json ? ctx.err : ctx.out)(`INCOMPLETE ${line}\n`);
        if (failures.length || crossed || incomplete.length) process.exitCode = 1;
      });
    });
}

const percent = (x: number) => `${(Math.floor(x * 1000) / 10).toFixed(x >= 1 ? 0 : 1)}%`;

/** "100%", or the less complete side's figure and name ("70.0% crm"), "!" when over the threshold. */
function completenessCell(e: JobResult): string {
  const c = e.completeness;
  if (!c) return '-';
  const worst = c.crm.completeness <= c.erp.completeness ? 'crm' : 'erp';
  if (c[worst].completeness >= 1) return '100%';
  return `${percent(c[worst].completeness)} ${worst}${c.incomplete.length ? ' !' : ''}`;
}

/** The incomplete sides of a run, one line each: what to look at. */
function incompleteLines(s: RunSummary): string[] {
  return (s.incomplete ?? []).map(
    (i) =>
      `${s.tenant} ${i.entity}: the ${i.side.toUpperCase()} side (${i.system}) is incomplete — ${i.deadLetters} open dead letters, ` +
      `${percent(i.deadLetterShare)} of its records (sync.maxDeadLetterShare ${i.maxDeadLetterShare}); ` +
      `see trueup dlq list --tenant ${s.tenant} --system ${i.system} --entity ${i.entity}`,
  );
}

function printSummaries(ctx: CliContext, summaries: RunSummary[]): void {
  const rows: string[][] = [];
  for (const s of summaries)
    for (const e of s.entities)
      rows.push([
        s.tenant,
        e.entity,
        e.mode,
        ...DISCREPANCY_CLASSES.map((c) => String(e.counts[c] ?? 0)),
        String(e.material),
        String(e.actions),
        String(e.resolved),
        e.completeness ? `${e.completeness.crm.deadLetters}/${e.completeness.erp.deadLetters}` : '-',
        completenessCell(e),
        `${e.timings.totalMs} ms`,
      ]);
  ctx.out(
    `${formatTable(
      [
        'tenant',
        'entity',
        'mode',
        ...DISCREPANCY_CLASSES.map((c) => CLASS_COLUMN[c]),
        'material',
        'actions',
        'resolved',
        'dl crm/erp',
        'complete',
        'time',
      ],
      rows,
    )}\n`,
  );
  for (const s of summaries) {
    const money = Object.entries(s.moneyVariance)
      .map(([c, v]) => `${c} ${v}`)
      .join(', ');
    ctx.out(
      `\n${s.tenant}: run ${s.runId} ${s.status} — ${s.totals.discrepancies} discrepancies (${s.totals.material} material, ${s.totals.accepted} accepted), ` +
        `${s.totals.actions} actions, ${s.totals.resolved} resolved, ${s.totals.resolvedInFlight} resolved in flight` +
        `${money ? `\n  money variance: ${money}` : ''}` +
        incompleteLines(s)
          .map((l) => `\n  incomplete: ${l.slice(s.tenant.length + 1)}`)
          .join('') +
        `\n  summary: ${s.outputDir}/summary.json\n`,
    );
  }
}

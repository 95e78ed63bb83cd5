// `trueup report`: rebuilds a run's report files (HTML, XLSX, CSV, Parquet) from what the control
// tables hold, or a close pack for one period (`--period`), or the cross-tenant overview for data
// teams (`--all-tenants`).
import type { Command } from 'commander';
import { latestRunId, ReportError } from '../../../reports/load-run.js';
import { PeriodError, parsePeriod } from '../../../reports/report-period.js';
import { restoreRunSummary, runDir, writeRunReports } from '../../../reports/write-run-reports.js';
import { systemsByRole, type TenantConfig } from '../../../staging/model/tenant-config.js';
import { tenantStaging } from '../../../staging/scoped-staging.js';
import { type CliContext, checkTenantId, configuredTenant, UsageError } from '../cli-context.js';

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

interface Options {
  tenant?: string;
  allTenants?: boolean;
  run?: string;
  period?: string;
  since?: string;
  json?: boolean;
}

/** The CRM and ERP system names of a tenant, which reports need to read records' business dates. */
export function reportSystems(tenant: string, t: TenantConfig): { crm: string; erp: string } {
  const { crm, erp } = systemsByRole(t);
  if (!crm || !erp)
    throw new UsageError(`tenant '${tenant}' needs a system with role crm and one with role erp`);
  return { crm, erp };
}

function parseSince(text: string): Date {
  const d = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)
    ? new Date(text)
    : new Date(Number.NaN);
  if (Number.isNaN(d.getTime()))
    throw new UsageError(
      `--since ${JSON.stringify(text)} is not a date such as 2026-11-01 or 2026-11-01T00:00:00Z`,
    );
  return d;
}

export function registerReportCommand(program: Command, ctx: CliContext): void {
  program
    .command('report')
    .description("rebuild a run's report files, a close pack for a period, or the cross-tenant overview")
    .option('--tenant <id>', "the tenant whose run's report to write")
    .option('--run <id>', 'the run (default: the tenant’s latest finished reconcile run)')
    .option('--period <YYYY-MM>', 'a close pack: records whose business date is in this month')
    .option('--all-tenants', 'the overview of every configured tenant, for data teams')
    .option('--since <date>', 'with --all-tenants: the trend covers runs from this date on')
    .option('--json', 'print what was written as JSON')
    .addHelpText(
      'after',
      `
A run's files go to <dataDir>/runs/<tenant>/<run id>/: report.html, report.xlsx,
discrepancies.csv, actions.csv, discrepancies.parquet (beside summary.json). A close pack goes to
its close-<period>/ folder, with the period's sign-offs and what changed since the last pack of
the period. The overview goes to <dataDir>/overview/. See docs/reports.md.

Examples:
  $ trueup report --tenant acme
  $ trueup report --tenant acme --run 20261130T020000Z-1a2b3c
  $ trueup report --tenant acme --period 2026-11
  $ trueup report --all-tenants --since 2026-11-01`,
    )
    .action(async (opts: Options, cmd: Command) => {
      if (!opts.tenant === !opts.allTenants)
        throw new UsageError('give either --tenant <id> or --all-tenants');
      if (opts.allTenants && (opts.run || opts.period))
        throw new UsageError('--run and --period need --tenant (the overview covers every tenant)');
      if (opts.tenant && opts.since) throw new UsageError('--since goes with --all-tenants');
      if (opts.tenant) checkTenantId(opts.tenant);
      // A run id names a folder: nothing that could leave the tenant's runs folder.
      if (opts.run !== undefined && !RUN_ID.test(opts.run))
        throw new UsageError(
          `--run ${JSON.stringify(opts.run)} is not a run id (such as 20261130T020000Z-1a2b3c)`,
        );
      let period = null;
      try {
        period = opts.period ? parsePeriod(opts.period) : null;
      } catch (err) {
        if (err instanceof PeriodError) throw new UsageError(`--period: ${err.message}`);
        throw err;
      }
      const since = opts.since ? parseSince(opts.since) : undefined;
      await ctx.withRuntime(cmd, async (rt) => {
        const pool = rt.staging.pool;
        if (opts.allTenants) {
          // Loaded here: its chart library is not needed by a command that writes no overview.
          const { writeOverview } = await import('../../../reports/overview.js');
          const res = await writeOverview(pool, {
            dataDir: rt.dataDir,
            tenants: Object.keys(rt.config.tenants).sort(),
            ...(since ? { since } : {}),
          });
          if (opts.json) ctx.out(`${JSON.stringify({ files: res.files, tenants: res.tenants }, null, 2)}\n`);
          else
            ctx.out(
              `overview of ${res.tenants.length} tenant(s):\n${res.files.map((f) => `  ${f}\n`).join('')}`,
            );
          return;
        }
        const tenant = opts.tenant!;
        const systems = reportSystems(tenant, configuredTenant(rt.config, tenant));
        // One tenant's report: every read and the close pack's record in the tenant's scope.
        const scoped = tenantStaging(rt.staging, tenant).pool;
        const runId = opts.run ?? (await latestRunId(scoped, tenant));
        if (!runId)
          throw new ReportError(
            `tenant ${tenant} has no finished reconcile run yet: run \`trueup reconcile --tenant ${tenant}\``,
            {
              subject: { tenant },
            },
          );
        const dir = runDir(rt.dataDir, tenant, runId);
        const res = await writeRunReports(scoped, { tenant, runId, systems, dir, period });
        await restoreRunSummary(scoped, { tenant, runId, dir });
        const s = res.summary;
        if (opts.json) {
          ctx.out(`${JSON.stringify({ dir: res.dir, files: res.files, summary: s }, null, 2)}\n`);
          return;
        }
        ctx.out(
          `${period ? `close pack ${period.period}` : 'report'} of ${tenant}, run ${runId}: ${s.discrepancies} discrepancies ` +
            `(${s.material} material, ${s.openMaterial} of them open; ${s.accepted} accepted)\n` +
            res.files.map((f) => `  ${f}\n`).join(''),
        );
      });
    });
}

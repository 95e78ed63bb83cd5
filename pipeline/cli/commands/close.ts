// `trueup close`: finance signs a tenant's period off. Refused (exit 1) while a material
// discrepancy of the period is open and not accepted, naming them; recorded and audited
// otherwise, and the period's close pack is written for the latest run with the sign-off in it.
import type { Command } from 'commander';
import { CloseRefusedError, signOffPeriod } from '../../../reports/close-signoff.js';
import { PeriodError, parsePeriod } from '../../../reports/report-period.js';
import { runDir, writeRunReports } from '../../../reports/write-run-reports.js';
import { tenantStaging } from '../../../staging/scoped-staging.js';
import { type CliContext, checkTenantId, configuredTenant, UsageError } from '../cli-context.js';
import { reportSystems } from './report.js';

interface Options {
  tenant: string;
  period: string;
  by: string;
  note?: string;
  json?: boolean;
}

export function registerCloseCommand(program: Command, ctx: CliContext): void {
  program
    .command('close')
    .description(
      "sign off a tenant's period for month-end close (refused while material discrepancies are open)",
    )
    .requiredOption('--tenant <id>', 'the tenant')
    .requiredOption('--period <YYYY-MM>', 'the month signed off')
    .requiredOption('--by <name>', 'who signs')
    .option('--note <text>', 'a note kept with the sign-off')
    .option('--json', 'print the sign-off as JSON')
    .addHelpText(
      'after',
      `
The period holds the records whose business date (order date, issue date, payment date; a
subscription's billing period; customers and products: all) falls in it. A sign-off is refused
while one of its material discrepancies is open and not accepted (accept with \`trueup
discrepancies accept\`), when the tenant was never reconciled, or when its latest run failed.
Each sign-off (and each refused attempt) is written to the audit table; later reports of the
period show who signed when and what appeared after. Exit codes: 0 signed, 1 refused, 2 usage.

Examples:
  $ trueup close --tenant acme --period 2026-11 --by alice
  $ trueup close --tenant acme --period 2026-11 --by alice --note "FX differences agreed with treasury"`,
    )
    .action(async (opts: Options, cmd: Command) => {
      checkTenantId(opts.tenant);
      if (!opts.by.trim()) throw new UsageError('--by must name who signs');
      let period: ReturnType<typeof parsePeriod>;
      try {
        period = parsePeriod(opts.period);
      } catch (err) {
        if (err instanceof PeriodError) throw new UsageError(`--period: ${err.message}`);
        throw err;
      }
      await ctx.withRuntime(cmd, async (rt) => {
        const tenant = opts.tenant;
        const systems = reportSystems(tenant, configuredTenant(rt.config, tenant));
        // The sign-off, its audit entry and the close pack's record are the tenant's: in its scope.
        const pool = tenantStaging(rt.staging, tenant).pool;
        let signed: Awaited<ReturnType<typeof signOffPeriod>>;
        try {
          signed = await signOffPeriod(pool, {
            tenant,
            systems,
            period,
            by: opts.by,
            ...(opts.note ? { note: opts.note } : {}),
          });
        } catch (err) {
          if (!(err instanceof CloseRefusedError)) throw err;
          if (opts.json)
            ctx.out(
              `${JSON.stringify({ signed: false, reason: err.message, blocking: err.blocking.map((d) => d.id) }, null, 2)}\n`,
            );
          ctx.err(`trueup: ${err.message}\n`);
          process.exitCode = 1;
          return;
        }
        const pack = await writeRunReports(pool, {
          tenant,
          runId: signed.runId,
          systems,
          period,
          dir: runDir(rt.dataDir, tenant, signed.runId),
        });
        if (opts.json) {
          ctx.out(`${JSON.stringify({ signed: true, signoff: signed, pack: pack.files }, null, 2)}\n`);
          return;
        }
        ctx.out(
          `signed off ${period.period} of ${tenant} by ${signed.signedBy} at ${signed.signedAt.toISOString()} ` +
            `(run ${signed.runId}; ${signed.discrepancyIds.length} discrepancies of the period live, none material and open)\n` +
            `close pack: ${pack.dir}/report.html\n`,
        );
      });
    });
}

// One demo tenant's whole loop, through the functions the CLI commands call: sync (captureSystems,
// as `trueup sync --once`), reconcile and the run's reports (as `trueup reconcile`), the actions
// the policy approved, their apply (as `trueup actions apply --yes`), then sync and reconcile again
// to show the corrections resolved. Progress goes to `say`, one line per step.
import { join } from 'node:path';
import type { createReconcilePool } from '../../reconcilers/pool/reconcile-pool.js';
import { reconcileTenant } from '../../reconcilers/run/reconcile-tenant.js';
import type { RunSummary } from '../../reconcilers/run/run-summary.js';
import { writeRunReports } from '../../reports/write-run-reports.js';
import type { DiscrepancyClass } from '../../staging/control/discrepancy-states.js';
import { ENTITIES } from '../../staging/model/entities.js';
import { systemsByRole } from '../../staging/model/tenant-config.js';
import { tenantWriters } from '../apply/apply-after-run.js';
import { applyActions } from '../apply/run-apply.js';
import { captureSystems } from '../connectors/capture-systems.js';
import { describeReport } from '../connectors/sync-report.js';
import type { Runtime } from '../runtime.js';
import { DemoError } from './demo-error.js';
import { appliedKeys, openActionable, type TenantOutcome } from './demo-summary.js';
import type { DemoTenant } from './demo-tenants.js';

/** Who the demo's apply is audited as. */
export const DEMO_APPLIER = 'trueup demo';

export interface TenantLoopDeps {
  rt: Runtime;
  pool: ReturnType<typeof createReconcilePool>;
  say: (line: string) => void;
  signal: AbortSignal;
}

export async function runTenantLoop(
  deps: TenantLoopDeps,
  tenant: DemoTenant,
  currency: string,
  deleteMarked: () => Promise<void>,
): Promise<TenantOutcome> {
  const { rt, say } = deps;
  const config = rt.config.tenants[tenant]!;
  const { crm, erp } = systemsByRole(config);
  const systems = { crm: crm!, erp: erp! };
  const logger = rt.logger.child({ tenant, command: 'demo' });
  const step = (text: string) => say(`${tenant}: ${text}`);
  // A stop request (Ctrl-C) ends the loop at the next step; a sync stops on it by itself.
  const stopped = () => {
    if (deps.signal.aborted) throw new DemoError('the demo was stopped', { subject: { tenant } });
  };

  const sync = async () => {
    stopped();
    const failures: string[] = [];
    const failed = await captureSystems(
      { staging: rt.staging, logger },
      {
        tenant,
        systems: Object.entries(config.systems),
        options: { mode: 'auto', entities: config.entities },
        once: true,
        resnapshot: false,
        intervalMs: 1000,
        signal: deps.signal,
        onReport: (r) => {
          step(`  ${describeReport(r).slice(tenant.length + 1)}`);
          if (r.status === 'failed') failures.push(`${r.system}: ${r.error ?? 'failed'}`);
        },
      },
    );
    if (failed)
      throw new DemoError(`the sync of ${tenant} failed: ${failures.join('; ')}`, { subject: { tenant } });
  };

  // The entities the tenant's systems hold (the others are `enabled: false`).
  const entities = ENTITIES.filter((e) => config.entities[e]?.enabled !== false);
  const reconcile = async (pass: string): Promise<{ summary: RunSummary; html: string }> => {
    stopped();
    const summary = await reconcileTenant({
      tenant,
      tenantConfig: config,
      staging: rt.staging,
      stagingUrl: rt.server.url,
      dataDir: rt.dataDir,
      pool: deps.pool,
      entities,
      confirm: { waitMs: 1000 },
      ...(rt.config.reconcile.memoryLimit ? { memoryLimit: rt.config.reconcile.memoryLimit } : {}),
    });
    if (summary.errors.length)
      throw new DemoError(
        `the ${pass} reconcile of ${tenant} failed: ${summary.errors.map((e) => `${e.entity}: ${e.message}`).join('; ')}`,
        { subject: { tenant } },
      );
    const written = await writeRunReports(rt.staging.pool, {
      tenant,
      runId: summary.runId,
      systems,
      dir: summary.outputDir,
    });
    const classes = Object.entries(summary.countsByClass)
      .filter(([, n]) => n > 0)
      .map(([c, n]) => `${n} ${c}`)
      .join(', ');
    step(
      `${pass} reconcile: run ${summary.runId}, ${summary.totals.discrepancies} open discrepancies${classes ? ` (${classes})` : ''}, ${summary.totals.actions} actions, ${summary.totals.resolved} resolved`,
    );
    const html = join(written.dir, 'report.html');
    step(`  report: ${html}`);
    return { summary, html };
  };

  step(
    `sync (${Object.entries(config.systems)
      .map(([n, s]) => `${n}: ${s.kind}`)
      .join(', ')})`,
  );
  await sync();
  // The generated deletes happen now, after the first sync, so they arrive as deletes.
  await deleteMarked();
  step('records deleted in the systems; sync again (the deletes arrive)');
  await sync();
  const first = await reconcile('first');
  const approved = await countActions(rt, tenant, 'approved');
  const proposed = await countActions(rt, tenant, 'proposed');
  step(`actions: ${approved} auto-approved by policy, ${proposed} proposed for a person`);

  stopped();
  const report = await applyActions({
    staging: rt.staging,
    tenant,
    config,
    by: DEMO_APPLIER,
    write: true,
    onlyPolicyApproved: true,
    logger,
    openWriter: tenantWriters({ staging: rt.staging, logger }, tenant, config),
  });
  const count = (k: string) => report.counts[k as keyof typeof report.counts] ?? 0;
  step(
    `apply: ${count('applied')} applied, ${count('skipped_stale')} skipped as stale, ${count('failed')} failed` +
      `${report.errors.length ? ` (${report.errors.map((e) => `${e.system}: ${e.message}`).join('; ')})` : ''}`,
  );

  // Salesforce's extractor reads up to the last whole second: a write made in this second is the
  // next sync's. Let the clock pass it, as any later sync would.
  await new Promise((r) => setTimeout(r, 1005 - (Date.now() % 1000)));
  step('sync again (the corrections come back from the systems)');
  await sync();
  const second = await reconcile('second');
  const keys = await appliedKeys(rt.staging.pool, tenant, systems);
  const stillOpen = await openActionable(rt.staging.pool, tenant, keys);
  const actionable = await openActionable(rt.staging.pool, tenant);
  step(
    `after the corrections: ${actionable.length} actionable discrepancies open, ${stillOpen.length} of the ${keys.length} corrected records`,
  );
  return {
    tenant,
    currency,
    firstPass: first.summary.countsByClass as Partial<Record<DiscrepancyClass, number>>,
    approved,
    applied: count('applied'),
    failed: count('failed'),
    skippedStale: count('skipped_stale'),
    actionableAfter: actionable.length,
    correctedStillOpen: stillOpen,
    reports: [first.html, second.html],
  };
}

async function countActions(rt: Runtime, tenant: string, status: string): Promise<number> {
  const { rows } = await rt.staging.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM control.actions WHERE tenant_id = $1 AND status = $2',
    [tenant, status],
  );
  return rows[0]?.n ?? 0;
}

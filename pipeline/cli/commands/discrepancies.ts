// `trueup discrepancies list|show|accept`: what reconciliation found for a tenant, and a reviewer's
// acceptance of discrepancies that are known and fine (who and why recorded, audited). Accepted
// ones stay accepted while they persist and do not count for `reconcile --fail-on`.
import type { Command } from 'commander';
import {
  AcceptError,
  acceptDiscrepancies,
  listDiscrepancies,
} from '../../../staging/control/discrepancies.js';
import { DISCREPANCY_STATUSES, type DiscrepancyStatus } from '../../../staging/control/discrepancy-states.js';
import { ENTITIES, type Entity, isEntity } from '../../../staging/model/entities.js';
import { systemsByRole } from '../../../staging/model/tenant-config.js';
import { tenantStaging } from '../../../staging/scoped-staging.js';
import type { Runtime } from '../../runtime.js';
import { type CliContext, checkIds, checkTenantId, configuredTenant, UsageError } from '../cli-context.js';
import { formatTable } from '../format-table.js';

interface ListOptions {
  tenant: string;
  entity?: string;
  status: string;
  material?: boolean;
  limit: string;
  json?: boolean;
}

interface AcceptOptions {
  tenant: string;
  by: string;
  reason: string;
  json?: boolean;
}

/** A malformed tenant id is the caller's mistake (exit 2), caught before Postgres starts. */
function checkTenant(rt: Runtime, tenant: string): string {
  checkTenantId(tenant);
  configuredTenant(rt.config, tenant);
  return tenant;
}

/** The tenant's CRM and ERP system names, when it has both (create actions name their source). */
function systemsOf(rt: Runtime, tenant: string): { crm: string; erp: string } | null {
  const { crm, erp } = systemsByRole(configuredTenant(rt.config, tenant));
  return crm && erp ? { crm, erp } : null;
}

const show = (v: unknown) =>
  v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);

export function registerDiscrepanciesCommands(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('discrepancies')
    .description('review what reconciliation found: list discrepancies, accept known ones');

  cmd
    .command('list')
    .description('list a tenant’s discrepancies, material and largest money impact first')
    .requiredOption('--tenant <id>', 'tenant')
    .option('--entity <name>', `only this entity (${ENTITIES.join(', ')})`)
    .option('--status <status>', DISCREPANCY_STATUSES.join(', '), 'open')
    .option('--material', 'only material discrepancies')
    .option('--limit <n>', 'at most this many rows', '200')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Example:
  $ trueup discrepancies list --tenant acme --entity invoice --material
  $ trueup discrepancies list --tenant acme --status accepted`,
    )
    .action(async (opts: ListOptions, c: Command) => {
      if (opts.entity && !isEntity(opts.entity))
        throw new UsageError(`unknown entity "${opts.entity}" (known: ${ENTITIES.join(', ')})`);
      if (!(DISCREPANCY_STATUSES as readonly string[]).includes(opts.status))
        throw new UsageError(
          `--status must be one of ${DISCREPANCY_STATUSES.join(', ')}, not ${JSON.stringify(opts.status)}`,
        );
      checkTenantId(opts.tenant);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw new UsageError('--limit must be a positive whole number');
      await ctx.withRuntime(c, async (rt) => {
        const rows = await listDiscrepancies(tenantStaging(rt.staging, opts.tenant).db, {
          tenant: checkTenant(rt, opts.tenant),
          ...(opts.entity ? { entity: opts.entity as Entity } : {}),
          status: opts.status as DiscrepancyStatus,
          material: opts.material ?? false,
          limit,
        });
        if (opts.json) {
          ctx.out(`${JSON.stringify(rows, null, 2)}\n`);
          return;
        }
        ctx.out(
          `${formatTable(
            [
              'id',
              'entity',
              'class',
              'field',
              'match key',
              'crm',
              'erp',
              'impact',
              'material',
              'status',
              'runs',
              'first seen',
              'accepted by',
              'candidates',
            ],
            rows.map((d) => [
              d.id,
              d.entity,
              d.class,
              d.field,
              d.matchKey,
              show(d.crmValue).slice(0, 30),
              show(d.erpValue).slice(0, 30),
              d.moneyImpact ? `${d.moneyImpact} ${d.currency ?? ''}`.trim() : '',
              d.material ? 'yes' : '',
              d.status,
              String(d.runsOpen),
              d.firstSeen.toISOString().slice(0, 19),
              d.acceptedBy ? `${d.acceptedBy}: ${d.acceptedReason ?? ''}` : '',
              d.candidates.length > 2
                ? `${d.candidates.slice(0, 2).join(', ')} +${d.candidates.length - 2}`
                : d.candidates.join(', '),
            ]),
          )}\n`,
        );
      });
    });

  cmd
    .command('show')
    .description('show one discrepancy: its records, values, explanation and candidate matches')
    .argument('<id>', 'discrepancy id (from `discrepancies list`)')
    .requiredOption('--tenant <id>', 'tenant')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Example:
  $ trueup discrepancies show --tenant acme 412

For a record missing on one side, the candidates are unmatched records of the other side that
look like it (same normalised email, tax id, name, number or sku); link one with
  $ trueup xref link --tenant acme --from-candidate 412 --candidate <id>`,
    )
    .action(async (id: string, opts: { tenant: string; json?: boolean }, c: Command) => {
      checkIds([id], 'discrepancy');
      checkTenantId(opts.tenant);
      await ctx.withRuntime(c, async (rt) => {
        const [d] = await listDiscrepancies(tenantStaging(rt.staging, opts.tenant).db, {
          tenant: checkTenant(rt, opts.tenant),
          ids: [id],
        });
        if (!d) {
          ctx.err(`trueup: tenant ${opts.tenant} has no discrepancy ${id}\n`);
          process.exitCode = 1;
          return;
        }
        if (opts.json) {
          ctx.out(`${JSON.stringify(d, null, 2)}\n`);
          return;
        }
        const systems = systemsOf(rt, opts.tenant);
        const { candidates: _c, ...detail } = d.detail ?? {};
        const lines: [string, string][] = [
          ['id', d.id],
          ['entity', d.entity],
          ['class', d.class],
          ['field', d.field],
          ['match key', d.matchKey],
          [`crm record${systems ? ` (${systems.crm})` : ''}`, d.crmId ?? ''],
          [`erp record${systems ? ` (${systems.erp})` : ''}`, d.erpId ?? ''],
          ['crm value', show(d.crmValue)],
          ['erp value', show(d.erpValue)],
          ['money impact', d.moneyImpact ? `${d.moneyImpact} ${d.currency ?? ''}`.trim() : ''],
          ['material', d.material ? 'yes' : 'no'],
          ['status', d.status],
          ['first seen', d.firstSeen.toISOString()],
          ['last seen', d.lastSeen.toISOString()],
          ['runs open', String(d.runsOpen)],
          ['accepted by', d.acceptedBy ? `${d.acceptedBy}: ${d.acceptedReason ?? ''}` : ''],
          ['detail', Object.keys(detail).length ? JSON.stringify(detail) : ''],
        ];
        const width = Math.max(...lines.map(([k]) => k.length));
        let text = lines
          .filter(([, v]) => v !== '')
          .map(([k, v]) => `${k.padEnd(width)}  ${v}`)
          .join('\n');
        if (d.candidates.length) {
          text += `\n\ncandidates (unmatched ${d.crmId ? 'erp' : 'crm'} records that look like it):\n`;
          text += d.candidates.map((x) => `  ${x}`).join('\n');
          text += `\nlink one: trueup xref link --tenant ${opts.tenant} --from-candidate ${d.id} --candidate ${d.candidates[0]}`;
        }
        ctx.out(`${text}\n`);
      });
    });

  cmd
    .command('accept')
    .description(
      'accept discrepancies by id: they stay accepted while they persist (who and why are audited)',
    )
    .argument('<ids...>', 'discrepancy ids (from `discrepancies list`)')
    .requiredOption('--tenant <id>', 'tenant')
    .requiredOption('--by <name>', 'who accepts them')
    .requiredOption('--reason <text>', 'why they are acceptable')
    .option('--json', 'print the accepted discrepancies and the withdrawn actions as JSON')
    .addHelpText(
      'after',
      `
Example:
  $ trueup discrepancies accept --tenant acme --by alice --reason "legacy credit limit, agreed with finance" 412 413

All or nothing: an unknown or already resolved id accepts none of them (exit 1). The undecided
corrections (actions proposed or approved, not yet applied) of the accepted discrepancies are
withdrawn in the same transaction (status skipped_stale, audited); rejected, applied and failed
actions are left as they are.`,
    )
    .action(async (ids: string[], opts: AcceptOptions, c: Command) => {
      checkTenantId(opts.tenant);
      ids = checkIds(ids, 'discrepancy');
      if (!opts.by.trim()) throw new UsageError('--by must name who accepts');
      if (!opts.reason.trim()) throw new UsageError('--reason must say why');
      await ctx.withRuntime(c, async (rt) => {
        const tenant = checkTenant(rt, opts.tenant);
        try {
          const { accepted, withdrawnActions } = await acceptDiscrepancies(
            tenantStaging(rt.staging, tenant).db,
            {
              tenant,
              ids,
              by: opts.by.trim(),
              reason: opts.reason.trim(),
              systems: systemsOf(rt, tenant),
            },
          );
          const n = withdrawnActions.length;
          if (opts.json)
            ctx.out(
              `${JSON.stringify({ accepted, actionsWithdrawn: n, withdrawnActionIds: withdrawnActions }, null, 2)}\n`,
            );
          else
            ctx.out(
              `accepted ${accepted.length} discrepanc${accepted.length === 1 ? 'y' : 'ies'} of ${tenant} (by ${opts.by.trim()}): ${accepted.map((d) => d.id).join(', ')}; ` +
                `withdrew ${n} undecided action${n === 1 ? '' : 's'} (now skipped_stale)${n ? `: ${withdrawnActions.join(', ')}` : ''}\n`,
            );
        } catch (err) {
          if (!(err instanceof AcceptError)) throw err;
          ctx.out(`${err.message}\n`);
          process.exitCode = 1;
        }
      });
    });
}

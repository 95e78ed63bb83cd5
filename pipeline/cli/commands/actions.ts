// `trueup actions list|approve|reject`: the corrections reconciliation proposes, and a reviewer's
// decision on them before anything is written back to a CRM or ERP. Decisions are all or nothing,
// record who (and why) and are audited; a later run never overwrites them
// (staging/control/actions.ts).
import type { Command } from 'commander';
import { ACTION_STATUSES, type ActionStatus } from '../../../staging/control/action-states.js';
import {
  type ActionView,
  DecideError,
  type Decision,
  decideActions,
  listActions,
} from '../../../staging/control/actions.js';
import { ENTITIES, type Entity, isEntity } from '../../../staging/model/entities.js';
import { tenantStaging } from '../../../staging/scoped-staging.js';
import type { Runtime } from '../../runtime.js';
import { type CliContext, checkIds, checkTenantId, configuredTenant, UsageError } from '../cli-context.js';
import { formatTable } from '../format-table.js';
import { registerActionsApply } from './actions-apply.js';

interface ListOptions {
  tenant: string;
  entity?: string;
  status: string;
  target?: string;
  limit: string;
  json?: boolean;
}

interface DecideOptions {
  tenant: string;
  by: string;
  reason?: string;
  json?: boolean;
}

/** A field value as a reviewer reads it: strings as they are, anything else as JSON. */
const value = (v: unknown) => (typeof v === 'string' ? v : v === undefined ? 'null' : JSON.stringify(v));

function target(a: ActionView): string {
  if (a.targetId !== null) return `${a.targetSystem}:${a.targetId}`;
  const source = a.explanation.source as { system?: unknown; id?: unknown } | undefined;
  return source?.id !== undefined
    ? `${a.targetSystem}:(new from ${String(source.system)}:${String(source.id)})`
    : `${a.targetSystem}:(new)`;
}

const fieldsText = (a: ActionView) =>
  Object.entries(a.fields)
    .map(([k, v]) => `${k} = ${value(v)}`)
    .join('; ');

/**
 * The explanation in short: per field the rule and the winning side (`name: owner → crm`); for a
 * create, why and from where. The full explanation (both values, golden value) is in --json.
 */
export function explain(a: ActionView): string {
  const e = a.explanation;
  if (Array.isArray(e.fields))
    return e.fields
      .map(
        (w: { field?: unknown; rule?: unknown; winner?: unknown }) =>
          `${String(w.field)}: ${String(w.rule)} → ${String(w.winner)}`,
      )
      .join('; ');
  if (typeof e.reason === 'string') return e.reason;
  return JSON.stringify(e);
}

const time = (d: Date | null) => (d ? d.toISOString().slice(0, 19) : '');

function decided(a: ActionView): string {
  if (!a.decidedBy) return '';
  return `${a.decidedBy} ${time(a.decidedAt)}${a.decisionReason ? `: ${a.decisionReason}` : ''}`;
}

function checkTarget(rt: Runtime, tenant: string, system: string | undefined): void {
  if (system === undefined) return;
  const systems = Object.keys(configuredTenant(rt.config, tenant).systems).sort();
  if (!systems.includes(system))
    throw new UsageError(
      `--target ${JSON.stringify(system)} is not a system of tenant ${tenant} (configured: ${systems.join(', ') || 'none'})`,
    );
}

export function registerActionsCommands(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('actions')
    .description('review the corrections reconciliation proposes: list, approve, reject');

  cmd
    .command('list')
    .description('list a tenant’s actions (corrections), oldest first')
    .requiredOption('--tenant <id>', 'tenant')
    .option('--entity <name>', `only this entity (${ENTITIES.join(', ')})`)
    .option('--status <status>', `${ACTION_STATUSES.join(', ')} or all`, 'proposed')
    .option('--target <system>', 'only actions that write to this system')
    .option('--limit <n>', 'at most this many rows', '200')
    .option('--json', 'print JSON (the full fields and explanation)')
    .addHelpText(
      'after',
      `
Example:
  $ trueup actions list --tenant acme
  $ trueup actions list --tenant acme --entity customer --target netsuite --status approved`,
    )
    .action(async (opts: ListOptions, c: Command) => {
      if (opts.entity !== undefined && !isEntity(opts.entity))
        throw new UsageError(`unknown entity "${opts.entity}" (known: ${ENTITIES.join(', ')})`);
      if (opts.status !== 'all' && !(ACTION_STATUSES as readonly string[]).includes(opts.status))
        throw new UsageError(
          `--status must be one of ${ACTION_STATUSES.join(', ')}, all; not ${JSON.stringify(opts.status)}`,
        );
      checkTenantId(opts.tenant);
      const limit = Number(opts.limit);
      if (!/^\d+$/.test(opts.limit) || !Number.isSafeInteger(limit) || limit < 1)
        throw new UsageError('--limit must be a positive whole number');
      await ctx.withRuntime(c, async (rt) => {
        configuredTenant(rt.config, opts.tenant);
        checkTarget(rt, opts.tenant, opts.target);
        // One more than asked tells whether the list was cut.
        const rows = await listActions(tenantStaging(rt.staging, opts.tenant).db, {
          tenant: opts.tenant,
          ...(opts.entity ? { entity: opts.entity as Entity } : {}),
          ...(opts.status !== 'all' ? { status: opts.status as ActionStatus } : {}),
          ...(opts.target !== undefined ? { targetSystem: opts.target } : {}),
          limit: limit + 1,
        });
        const more = rows.length > limit;
        const shown = rows.slice(0, limit);
        if (opts.json) {
          ctx.out(`${JSON.stringify(shown, null, 2)}\n`);
          return;
        }
        ctx.out(
          `${formatTable(
            ['id', 'entity', 'kind', 'target', 'sets', 'why', 'observed', 'status', 'decided', 'error'],
            shown.map((a) => [
              a.id,
              a.entity,
              a.kind,
              target(a),
              fieldsText(a),
              explain(a),
              a.observedVersion ?? '',
              a.status,
              decided(a),
              a.error ?? '',
            ]),
          )}\n${more ? `(first ${limit}; more match: raise --limit or narrow with --entity/--target)\n` : ''}`,
        );
      });
    });

  const decide = (decision: Decision) => async (ids: string[], opts: DecideOptions, c: Command) => {
    checkTenantId(opts.tenant);
    const unique = checkIds(ids, 'action');
    const by = opts.by.trim();
    if (!by) throw new UsageError(`--by must name who ${decision}s`);
    const reason = opts.reason?.trim() ?? null;
    if (opts.reason !== undefined && !reason) throw new UsageError('--reason must say why');
    if (decision === 'reject' && !reason) throw new UsageError('a rejection needs --reason');
    await ctx.withRuntime(c, async (rt) => {
      configuredTenant(rt.config, opts.tenant);
      try {
        const done = await decideActions(tenantStaging(rt.staging, opts.tenant).db, {
          tenant: opts.tenant,
          decision,
          ids: unique,
          by,
          reason,
        });
        const verb = decision === 'approve' ? 'approved' : 'rejected';
        if (opts.json) ctx.out(`${JSON.stringify({ [verb]: done }, null, 2)}\n`);
        else
          ctx.out(
            `${verb} ${done.length} action${done.length === 1 ? '' : 's'} of ${opts.tenant} (by ${by}): ${done.map((a) => a.id).join(', ')}\n`,
          );
      } catch (err) {
        if (!(err instanceof DecideError)) throw err;
        ctx.err(`trueup: ${err.message}\n`);
        process.exitCode = 1;
      }
    });
  };

  cmd
    .command('approve')
    .description('approve proposed actions by id, for the writer to apply (who and why are audited)')
    .argument('<ids...>', 'action ids (from `actions list`)')
    .requiredOption('--tenant <id>', 'tenant')
    .requiredOption('--by <name>', 'who approves them')
    .option('--reason <text>', 'why (optional)')
    .option('--json', 'print the approved actions as JSON')
    .addHelpText(
      'after',
      `
Example:
  $ trueup actions approve --tenant acme --by alice 1201 1202

All or nothing: an unknown id, or an action that is not proposed, approves none of them (exit 1).`,
    )
    .action(decide('approve'));

  cmd
    .command('reject')
    .description('reject proposed or approved actions by id: they are never applied (audited)')
    .argument('<ids...>', 'action ids (from `actions list`)')
    .requiredOption('--tenant <id>', 'tenant')
    .requiredOption('--by <name>', 'who rejects them')
    .requiredOption('--reason <text>', 'why they must not be applied')
    .option('--json', 'print the rejected actions as JSON')
    .addHelpText(
      'after',
      `
Example:
  $ trueup actions reject --tenant acme --by alice --reason "ERP credit limit is right, CRM is stale" 1203

All or nothing: an unknown id, or an action that is not proposed or approved (applied, failed,
rejected, skipped_stale), rejects none of them (exit 1). A later run that proposes the same
correction again leaves it rejected.`,
    )
    .action(decide('reject'));

  registerActionsApply(cmd, ctx);
}

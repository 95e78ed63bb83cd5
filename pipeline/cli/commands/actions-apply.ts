// `trueup actions apply`: writes a tenant's approved actions to their target systems (docs/apply.md).
// Dry-run by default: each action's record, every field's value read from the system now, the value
// it would get, and whether it would be applied, skipped as stale, refused or held; `--yes` writes.
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { ENTITIES, type Entity, isEntity } from '../../../staging/model/entities.js';
import { tenantWriters } from '../../apply/apply-after-run.js';
import type { ApplyHooks, ApplyItem, ApplyReport } from '../../apply/apply-types.js';
import { applyActions } from '../../apply/run-apply.js';
import { type CliContext, checkIds, checkTenantId, configuredTenant, UsageError } from '../cli-context.js';
import { formatTable } from '../format-table.js';
import { createProgress, type Progress } from '../progress.js';

interface ApplyCliOptions {
  tenant: string;
  entity?: string;
  ids?: string[];
  target?: string;
  yes?: boolean;
  by?: string;
  batchSize?: string;
  json?: boolean;
}

/** The OS user's name, the default of --by. */
function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}

const text = (v: unknown) =>
  v === undefined ? '?' : v === null ? '(null)' : typeof v === 'string' ? v : JSON.stringify(v);

const OUTCOME: Record<ApplyItem['outcome'], string> = {
  applied: 'applied',
  failed: 'failed',
  skipped_stale: 'skipped (stale)',
  held: 'held',
  would_apply: 'would apply',
  would_skip_stale: 'would skip (stale)',
  would_fail: 'refused',
  decided_meanwhile: 'decided meanwhile',
  not_now: 'not now (error)',
};

function render(r: ApplyReport): string {
  const rows: string[][] = [];
  for (const it of r.items) {
    const target = `${it.targetSystem}:${it.targetId ?? `(new, key ${it.key})`}`;
    const changes = it.changes.length ? it.changes : [{ field: '', current: undefined, next: undefined }];
    changes.forEach((ch, k) => {
      rows.push([
        k ? '' : it.actionId,
        k ? '' : it.entity,
        k ? '' : it.kind,
        k ? '' : target,
        ch.field,
        ch.field ? (it.kind === 'create' ? '—' : text(ch.current)) : '',
        ch.field ? text(ch.next) : '',
        k ? '' : OUTCOME[it.outcome],
      ]);
    });
  }
  const lines = [formatTable(['id', 'entity', 'kind', 'target', 'field', 'now', 'new', 'outcome'], rows)];
  const notes = [
    ...r.recovered.map(
      (x) =>
        `interrupted apply, batch ${x.batch}, action ${x.actionId}: ${
          x.resolution === 'applied'
            ? 'the write had landed: applied'
            : x.resolution === 'retry'
              ? 'the write had not landed: written now'
              : x.resolution === 'in_doubt'
                ? `in doubt, skipped_stale: ${x.reason}`
                : `unresolved: ${x.reason}`
        }`,
    ),
    ...r.items.filter((it) => it.reason).map((it) => `${it.actionId}: ${it.reason}`),
    ...r.items
      .filter((it) => it.dropped.length)
      .map(
        (it) =>
          `${it.actionId}: left out (compare ignores them, ${it.targetSystem} cannot hold them): ${it.dropped.join(', ')}`,
      ),
    ...r.unaddressable.map((u) => `${u.id}: not applied: ${u.problem}`),
    ...r.errors.map(
      (e) =>
        `${e.system} ${e.entity}: not applied now (${e.actions.length} action(s) stay approved): ${e.message}`,
    ),
  ];
  if (notes.length) lines.push('', ...notes);
  const count = (o: ApplyItem['outcome']) => r.counts[o] ?? 0;
  lines.push(
    '',
    r.dryRun
      ? `dry-run of ${r.tenant}: ${count('would_apply')} would be applied, ${count('would_skip_stale')} skipped as stale, ${count('would_fail')} refused, ${count('held')} held — nothing was written (--yes writes)`
      : `applied ${count('applied')} action(s) of ${r.tenant}; ${count('skipped_stale')} skipped as stale, ${count('failed')} failed, ${count('held')} held`,
  );
  return `${lines.join('\n')}\n`;
}

/** Test-only crash points (TRUEUP_TEST_APPLY_CRASH=before:<n>|after:<n>): SIGKILL around the n-th write. */
function crashHooks(spec: string | undefined): ApplyHooks | undefined {
  const m = spec ? /^(before|after):(\d+)$/.exec(spec) : null;
  if (!m) return undefined;
  let n = 0;
  const at = Number(m[2]);
  const hook = () => {
    if (++n === at) process.kill(process.pid, 'SIGKILL');
  };
  return m[1] === 'before' ? { beforeWrite: hook } : { afterWrite: hook };
}

export function registerActionsApply(actions: Command, ctx: CliContext): void {
  actions
    .command('apply')
    .description('write approved actions to their systems (dry-run unless --yes)')
    .requiredOption('--tenant <id>', 'tenant')
    .option('--entity <name>', `only this entity (${ENTITIES.join(', ')})`)
    .option(
      '--ids <ids...>',
      'only these action ids (also: policy approvals beyond its limits, applied by --by)',
    )
    .option('--target <system>', 'only actions that write to this system')
    .option('--yes', 'write (without it: show what would be written, read from the systems now)')
    .option('--by <name>', 'who applies (audited; segregation of duties)', osUser())
    .option('--batch-size <n>', "records per write call (default and maximum: the vendor's limit)")
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Example:
  $ trueup actions apply --tenant acme                 # dry-run: current and new values, stale ones
  $ trueup actions apply --tenant acme --target netsuite --yes --by alice
  $ trueup actions apply --tenant acme --ids 1201 1202 --yes

Each action is written once: an interrupted apply is finished by the next one, which asks the
target what landed. A record changed since reconciliation is skipped (skipped_stale), untouched.
Exit 1 when an action failed (its error is in \`actions list\` and a dead letter).`,
    )
    .action(async (opts: ApplyCliOptions, c: Command) => {
      checkTenantId(opts.tenant);
      if (opts.entity !== undefined && !isEntity(opts.entity))
        throw new UsageError(`unknown entity "${opts.entity}" (known: ${ENTITIES.join(', ')})`);
      const ids = opts.ids ? checkIds(opts.ids, 'action') : undefined;
      const by = (opts.by ?? '').trim();
      if (!by) throw new UsageError('--by must name who applies');
      const batchSize = opts.batchSize === undefined ? undefined : Number(opts.batchSize);
      if (batchSize !== undefined && (!/^\d+$/.test(opts.batchSize!) || batchSize < 1))
        throw new UsageError('--batch-size must be a positive whole number');
      await ctx.withRuntime(c, async (rt) => {
        const config = configuredTenant(rt.config, opts.tenant);
        if (opts.target !== undefined && !Object.hasOwn(config.systems, opts.target))
          throw new UsageError(
            `--target ${JSON.stringify(opts.target)} is not a system of tenant ${opts.tenant} (configured: ${Object.keys(config.systems).sort().join(', ')})`,
          );
        const logger = rt.logger.child({ tenant: opts.tenant, command: 'actions apply' });
        let bar: Progress | undefined;
        const hooks: ApplyHooks = {
          ...crashHooks(ctx.env.TRUEUP_TEST_APPLY_CRASH),
          progress(done, total) {
            bar ??= createProgress(`apply ${opts.tenant}`, { total, unit: 'actions', finalOnlyIfLong: true });
            bar.update(done);
          },
        };
        const report = await applyActions({
          staging: rt.staging,
          tenant: opts.tenant,
          config,
          by,
          write: opts.yes === true,
          ...(opts.entity ? { entity: opts.entity as Entity } : {}),
          ...(ids ? { ids } : {}),
          ...(opts.target ? { target: opts.target } : {}),
          ...(batchSize ? { batchSize } : {}),
          logger,
          openWriter: tenantWriters({ staging: rt.staging, logger }, opts.tenant, config),
          hooks,
        });
        bar?.stop(opts.yes ? 'decided' : 'planned');
        ctx.out(opts.json ? `${JSON.stringify(report, jsonSafe, 2)}\n` : render(report));
        const failed =
          (report.counts.failed ?? 0) > 0 ||
          report.errors.length > 0 ||
          report.recovered.some((r) => r.resolution === 'unresolved');
        if (!report.dryRun && failed) process.exitCode = 1;
      });
    });
}

const jsonSafe = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

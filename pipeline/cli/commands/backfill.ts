// `trueup backfill`: re-reads one entity of a tenant from its sources — a window of modification
// times or a list of record ids — through each connector's bounded re-read (rereadSystem: staged
// through the one write path, no checkpoint moved, safe beside a running sync or serve), shows
// progress, prints per system what was read and staged, then reconciles the entity incrementally.
// Postgres systems also take a SQL predicate (--where) and one table (--table): a whole-table
// re-read sweeps deletes and resumes a table a schema change stopped (postgres/reread.ts).
import type { Command } from 'commander';
import { createReconcilePool } from '../../../reconcilers/pool/reconcile-pool.js';
import { reconcileTenant } from '../../../reconcilers/run/reconcile-tenant.js';
import { ENTITIES, type Entity, isEntity } from '../../../staging/model/entities.js';
import type { RereadRequest } from '../../connectors/contract.js';
import { rereadSystem } from '../../connectors/stream-runner.js';
import type { SyncReport } from '../../connectors/sync-report.js';
import { type CliContext, checkTenantId, configuredTenant, UsageError } from '../cli-context.js';
import { formatTable } from '../format-table.js';
import { createProgress } from '../progress.js';

interface Options {
  tenant: string;
  entity: string;
  system?: string;
  since?: string;
  until?: string;
  ids?: string;
  where?: string;
  table?: string;
  reconcile: boolean;
}

export function registerBackfillCommand(program: Command, ctx: CliContext): void {
  program
    .command('backfill')
    .description('re-read a window or given records of one entity from the sources, then reconcile it')
    .requiredOption('--tenant <id>', 'the tenant')
    .requiredOption('--entity <name>', `the entity to re-read (${ENTITIES.join(', ')})`)
    .option('--system <name>', 'only this system (default: every system of the tenant that has the entity)')
    .option(
      '--since <date>',
      'records modified at or after this time (ISO 8601; a date means its midnight UTC)',
    )
    .option('--until <date>', 'records modified before this time (default: now)')
    .option('--ids <a,b,…>', "these records, by the source's own id (as staged), comma-separated")
    .option(
      '--where <sql>',
      'postgres only: a SQL predicate on the source table (alias t), ANDed to the slice; trusted config-level SQL',
    )
    .option(
      '--table <name>',
      'postgres only: only this mapped table (schema.table); without a window or ids, every row of it (sweeps deletes, resumes a table a schema change stopped)',
    )
    .option('--no-reconcile', 'stage only; leave the reconcile to the next run')
    .addHelpText(
      'after',
      `
Examples:
  $ trueup backfill --tenant acme --entity invoice --since 2025-03-01 --until 2025-03-08
  $ trueup backfill --tenant acme --entity customer --system crm --ids 0015g00000AbCdE,0015g00000FgHiJ
  $ trueup backfill --tenant acme --entity invoice --system erp --since 2025-03-01 --where "t.company_id = 7"
  $ trueup backfill --tenant acme --entity product --system erp --table public.products

Give either a window (--since, optionally --until) or --ids; for a postgres system also
--table alone (every row of that table) or --where alone (every row it matches). Each system
re-reads only that slice (Salesforce: Bulk queryAll on SystemModstamp or Id IN (…); HubSpot:
search on the modification stamp or batch read by id; NetSuite: SuiteQL on lastmodifieddate or
id IN (…); Postgres: keyset chunks of the table in a snapshot consistent with the CDC stream,
window on the mapping's updatedAt; CSV: the files now in the drop folder), deletes included
(Salesforce IsDeleted, HubSpot archived records, NetSuite deletedrecord; an id no longer live is
a tombstone only when the vendor says it was deleted). A whole-table postgres re-read (--table,
no --where) tombstones staged rows the table no longer has and, for a table a schema change
stopped (fix the mapping first), resumes it: the next sync streams it again from the slot, no
re-snapshot (stop a running sync of that source meanwhile). Rows are staged through the version
guard, so nothing a running sync staged meanwhile goes back; no checkpoint moves. Then the
entity is reconciled incrementally (skip with --no-reconcile).
Exit codes: 0 ok, 1 a re-read or the reconcile failed, 2 usage error.`,
    )
    .action(async (opts: Options, cmd: Command) => {
      checkTenantId(opts.tenant);
      if (!isEntity(opts.entity))
        throw new UsageError(`unknown entity "${opts.entity}" (known: ${ENTITIES.join(', ')})`);
      const entity = opts.entity as Entity;
      const request = rereadRequest(entity, opts);
      await ctx.withRuntime(cmd, async (rt) => {
        const tenantConfig = configuredTenant(rt.config, opts.tenant);
        const systems = Object.entries(tenantConfig.systems).filter(
          ([name]) => !opts.system || name === opts.system,
        );
        if (opts.system && !systems.length)
          throw new UsageError(`tenant ${opts.tenant} has no system named "${opts.system}"`);
        for (const [flag, given] of [
          ['--where', opts.where],
          ['--table', opts.table],
        ] as const) {
          const other = given === undefined ? undefined : systems.find(([, c]) => kindOf(c) !== 'postgres');
          if (other)
            throw new UsageError(
              `${flag} applies to postgres systems only; system ${other[0]} of tenant ${opts.tenant} is ${kindOf(other[1])}` +
                (opts.system ? '' : ' (name a postgres system with --system)'),
            );
        }
        const logger = rt.logger.child({ command: 'backfill', tenant: opts.tenant, entity });
        const progress = createProgress(`backfill ${opts.tenant} ${entity}`, { finalOnlyIfLong: true });
        const reports: SyncReport[] = [];
        try {
          for (const [system, config] of systems) {
            const r = await rereadSystem(
              { staging: rt.staging, logger },
              opts.tenant,
              system,
              config,
              request,
              {
                entities: tenantConfig.entities,
                onUnitStaged: ({ rows }) => progress.tick(rows),
              },
            );
            // A system without the entity has nothing to re-read (no stream); named with --system it is an error.
            if (r.status === 'completed' && !r.streams.length) {
              if (opts.system)
                throw new UsageError(`system ${system} of tenant ${opts.tenant} has no ${entity}`);
              continue;
            }
            reports.push(r);
          }
        } finally {
          progress.stop('re-read');
        }
        if (!reports.length)
          throw new UsageError(`tenant ${opts.tenant} has no system with ${entity} to re-read`);
        ctx.out(`${describeRereads(reports, entity)}\n`);
        const failed = reports.filter((r) => r.status !== 'completed');
        for (const r of failed)
          ctx.out(`FAILED ${r.system}: ${r.error ?? r.streams.find((s) => s.detail)?.detail ?? r.status}\n`);
        if (failed.length) process.exitCode = 1;
        if (!opts.reconcile || failed.length === reports.length) return;
        const pool = createReconcilePool({
          ...(rt.config.workers.threads ? { threads: rt.config.workers.threads } : {}),
          jobTimeoutMs: rt.config.workers.jobTimeoutMs,
        });
        try {
          const s = await reconcileTenant({
            tenant: opts.tenant,
            tenantConfig,
            staging: rt.staging,
            stagingUrl: rt.server.url,
            dataDir: rt.dataDir,
            pool,
            entities: [entity],
            mode: 'incremental',
            ...(rt.config.reconcile?.memoryLimit ? { memoryLimit: rt.config.reconcile.memoryLimit } : {}),
          });
          ctx.out(
            `reconcile ${opts.tenant} ${entity}: run ${s.runId} ${s.status} — ${s.totals.discrepancies} discrepancies ` +
              `(${s.totals.material} material), ${s.totals.actions} actions, ${s.totals.resolved} resolved\n`,
          );
          for (const e of s.errors) ctx.out(`FAILED reconcile ${e.entity}: ${e.message}\n`);
          if (s.errors.length) process.exitCode = 1;
        } finally {
          await pool.close();
        }
      });
    });
}

function kindOf(config: unknown): string {
  return String((config as { kind?: unknown } | null)?.kind ?? 'unknown');
}

/**
 * The re-read the options ask for; a usage error (exit 2) when they ask for none, both or a bad
 * one. `--where`/`--table` go in the request's `source` (postgres only); with neither a window nor
 * ids they ask for every row of the table.
 */
export function rereadRequest(
  entity: Entity,
  opts: Pick<Options, 'since' | 'until' | 'ids' | 'where' | 'table'>,
): RereadRequest {
  const window = opts.since !== undefined || opts.until !== undefined;
  if (window && opts.ids !== undefined)
    throw new UsageError('give either a window (--since/--until) or --ids, not both');
  if (opts.where !== undefined && !opts.where.trim()) throw new UsageError('--where is empty');
  const source =
    opts.where !== undefined || opts.table !== undefined
      ? {
          source: {
            ...(opts.where !== undefined ? { where: opts.where.trim() } : {}),
            ...(opts.table !== undefined ? { table: opts.table } : {}),
          },
        }
      : {};
  if (!window && opts.ids === undefined) {
    if (!source.source)
      throw new UsageError(
        'give a window (--since, optionally --until) or --ids (or, for postgres, --table or --where)',
      );
    return { entity, all: true, ...source };
  }
  if (opts.ids !== undefined) {
    const ids = [...new Set(opts.ids.split(',').map((s) => s.trim()))].filter(Boolean);
    if (!ids.length) throw new UsageError('--ids lists no id');
    return { entity, ids, ...source };
  }
  if (opts.since === undefined) throw new UsageError('--until needs --since (the start of the window)');
  const from = instant('--since', opts.since);
  const to = opts.until === undefined ? new Date().toISOString() : instant('--until', opts.until);
  if (from >= to) throw new UsageError(`--since ${opts.since} is not before --until ${opts.until ?? 'now'}`);
  return { entity, window: { from, to }, ...source };
}

function instant(flag: string, text: string): string {
  // A date or date-time in ISO 8601 form only: Date.parse would take "3/4/2025" in the local zone.
  const ms = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)
    ? Date.parse(text)
    : Number.NaN;
  if (Number.isNaN(ms))
    throw new UsageError(
      `${flag} ${JSON.stringify(text)} is not a date (use ISO 8601: 2025-03-01 or 2025-03-01T12:00:00Z)`,
    );
  return new Date(ms).toISOString();
}

/** One row per system: what it read, staged (changed), found unchanged and dead-lettered. */
function describeRereads(reports: readonly SyncReport[], entity: Entity): string {
  const sum = (r: SyncReport, f: (s: SyncReport['streams'][number]) => number) =>
    r.streams.reduce((n, s) => n + f(s), 0);
  return formatTable(
    ['system', 'kind', 'entity', 'status', 're-read', 'staged', 'unchanged', 'dead-lettered', 'time'],
    reports.map((r) => [
      r.system,
      r.kind,
      entity,
      r.status,
      String(sum(r, (s) => s.received)),
      String(sum(r, (s) => s.inserted + s.updated + s.deleted)),
      String(sum(r, (s) => s.ignored)),
      String(sum(r, (s) => s.deadLettered)),
      `${r.durationMs} ms`,
    ]),
  );
}

// `trueup remap`: after a mapping change, recomputes the staged canonical columns of a tenant's
// entities from the stored `raw` records — each system's own mapper with the current config
// (Connector.remapper), no source read. Batched in key order with progress; each row is written
// only if it is still at the version read and its values or mapping version change (staging/
// remap.ts), so its staged_seq moves and the next incremental reconcile sees exactly what changed.
// Rows that no longer map are dead-lettered (their staged values kept); exit 1 when they are more
// than sync.maxDeadLetterShare of the rows scanned of any system × entity.
import type { Command } from 'commander';
import type pg from 'pg';
import { ENTITIES, type Entity, isEntity } from '../../../staging/model/entities.js';
import { type RemapResult, remapEntity } from '../../../staging/remap.js';
import { withTenantScope } from '../../../staging/tenant-scope.js';
import { stagingTable } from '../../../staging/write-changes.js';
import { findConnector } from '../../connectors/registry.js';
import { tenantRemappers } from '../../connectors/remap.js';
import { overDeadLetterShare, percent } from '../../connectors/sync-report.js';
import { kindOf } from '../../connectors/system-handle.js';
import {
  type CliContext,
  checkTenantId,
  configuredTenant,
  EXIT_FAILURE,
  UsageError,
} from '../cli-context.js';
import { formatTable } from '../format-table.js';
import { createProgress } from '../progress.js';

interface Options {
  tenant: string;
  entity?: string;
  system?: string;
  chunk: string;
}

export function registerRemapCommand(program: Command, ctx: CliContext): void {
  program
    .command('remap')
    .description(
      'recompute staged canonical columns from the stored raw records with the current mapping (no source read)',
    )
    .requiredOption('--tenant <id>', 'the tenant')
    .option('--entity <name>', `only this entity (${ENTITIES.join(', ')})`)
    .option('--system <name>', 'only this system')
    .option('--chunk <rows>', 'rows per batch', '5000')
    .addHelpText(
      'after',
      `
Examples:
  $ trueup remap --tenant acme --entity customer --system legacy
  $ trueup remap --tenant acme

After changing a mapping (a system's columns or mapping, the tenant's entities.<e>.mapping.<s>,
value maps, number or date formats), remap applies it to what is already staged: every live row
of the slice is mapped again from its raw record by its system's own mapper and written only if
its canonical values or its mapping version (entities.<e>.mappingVersion) change, guarded by the
row's version (a newer change staged meanwhile is kept). Unchanged rows are not rewritten, so the
next incremental reconcile looks only at the changed ones. Rows that no longer map are
dead-lettered and keep their staged values. Postgres fields mapped by a SQL expression keep their
staged values (only the source evaluates them: re-read with \`trueup backfill\`); an API record
holds only the properties read, so a newly mapped property needs a backfill too.
Exit codes: 0 ok, 1 dead letters above sync.maxDeadLetterShare (or a system failed), 2 usage error.`,
    )
    .action(async (opts: Options, cmd: Command) => {
      checkTenantId(opts.tenant);
      if (opts.entity !== undefined && !isEntity(opts.entity))
        throw new UsageError(`unknown entity "${opts.entity}" (known: ${ENTITIES.join(', ')})`);
      const chunkSize = Number(opts.chunk);
      if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 100_000)
        throw new UsageError('--chunk must be a whole number from 1 to 100000');
      await ctx.withRuntime(cmd, async (rt) => {
        const tenantConfig = configuredTenant(rt.config, opts.tenant);
        if (opts.system !== undefined && !Object.hasOwn(tenantConfig.systems, opts.system))
          throw new UsageError(`tenant ${opts.tenant} has no system named "${opts.system}"`);
        const systems = Object.keys(tenantConfig.systems).filter(
          (s) => opts.system === undefined || s === opts.system,
        );
        const entities = (opts.entity ? [opts.entity] : ENTITIES) as Entity[];
        const remappers = tenantRemappers(opts.tenant, tenantConfig.systems, tenantConfig.entities);
        const maxShare = tenantConfig.sync.maxDeadLetterShare;
        const slices = await stagedSlices(rt.staging.pool, opts.tenant, systems, entities);
        if (!slices.length) {
          ctx.out(
            `nothing staged for tenant ${opts.tenant}${opts.system ? ` system ${opts.system}` : ''}${opts.entity ? ` ${opts.entity}` : ''}\n`,
          );
          return;
        }
        const total = slices.reduce((n, s) => n + s.rows, 0);
        const progress = createProgress(`remap ${opts.tenant}`, { total, finalOnlyIfLong: true });
        const rows: string[][] = [];
        const problems: string[] = [];
        try {
          for (const { system, entity } of slices) {
            const kind = kindOf(tenantConfig.systems[system]);
            let res: RemapResult;
            try {
              const remap = remappers(system, entity);
              if (!remap) {
                problems.push(
                  `${system} ${entity}: kind ${kind} cannot map stored records again (${findConnector(kind) ? 'no remapper' : 'unknown kind'})`,
                );
                continue;
              }
              let seen = 0;
              res = await remapEntity(rt.staging.pool, {
                tenant: opts.tenant,
                system,
                entity,
                mappingVersion: tenantConfig.entities[entity]?.mappingVersion ?? 1,
                remap,
                all: true,
                chunkSize,
                onChunk: (scanned) => {
                  progress.tick(scanned - seen);
                  seen = scanned;
                },
              });
            } catch (err) {
              problems.push(`${system} ${entity}: ${(err as Error).message}`);
              continue;
            }
            const unchanged = res.scanned - res.updated - res.deadLettered - (res.needsSource ?? 0);
            rows.push([
              system,
              kind,
              entity,
              String(res.scanned),
              String(res.updated),
              String(unchanged),
              String(res.deadLettered),
            ]);
            if (res.needsSource)
              ctx.out(
                `${system} ${entity}: ${res.needsSource} row(s) left as staged: ${res.needsSourceReason}\n`,
              );
            if (overDeadLetterShare(res.deadLettered, res.scanned, maxShare))
              problems.push(
                `over the dead-letter threshold: ${opts.tenant}/${system} ${entity}: ${res.deadLettered} of ${res.scanned} rows ` +
                  `no longer map (${percent(res.deadLettered / res.scanned)}, above sync.maxDeadLetterShare ${percent(maxShare)}); ` +
                  `look at the ${entity} mapping of system ${system} (trueup dlq list --tenant ${opts.tenant} --system ${system} --entity ${entity})`,
              );
          }
        } finally {
          progress.stop('re-mapped');
        }
        if (rows.length)
          ctx.out(
            `${formatTable(['system', 'kind', 'entity', 'scanned', 'changed', 'unchanged', 'dead-lettered'], rows)}\n`,
          );
        for (const p of problems) ctx.out(`${p}\n`);
        if (problems.length) process.exitCode = EXIT_FAILURE;
      });
    });
}

/** The (system, entity) slices with live staged rows, and how many (for the progress total). */
async function stagedSlices(
  pool: pg.Pool,
  tenant: string,
  systems: readonly string[],
  entities: readonly Entity[],
): Promise<{ system: string; entity: Entity; rows: number }[]> {
  const out: { system: string; entity: Entity; rows: number }[] = [];
  await withTenantScope(pool, tenant, async (c) => {
    for (const entity of entities) {
      const { rows } = await c.query<{ system: string; n: string }>(
        `SELECT system, count(*) AS n FROM ${stagingTable(entity)}
          WHERE tenant_id = $1 AND system = ANY($2::text[]) AND deleted_at IS NULL GROUP BY system ORDER BY system`,
        [tenant, systems],
      );
      for (const r of rows) out.push({ system: r.system, entity, rows: Number(r.n) });
    }
  });
  return out;
}

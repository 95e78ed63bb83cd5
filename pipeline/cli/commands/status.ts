// `trueup status`: tenants, the checkpoint of every source stream, per tenant × system × entity the
// staged rows, tombstones and open dead letters (grouped by reason, share against
// sync.maxDeadLetterShare), and for each Postgres (CDC) source its live figures: state,
// checkpoint LSN, bytes behind, wal_status, rows/s. With --tenant every read of staging runs in
// that tenant's scope (tenantStaging, docs/security.md); across tenants it reads as the owner.
import type { Command } from 'commander';
import { listCheckpoints } from '../../../staging/checkpoints.js';
import { countOpenDeadLetters } from '../../../staging/control/dead-letters.js';
import { tenantStaging } from '../../../staging/scoped-staging.js';
import { listTenants, upsertTenants } from '../../../staging/tenants.js';
import { type CdcSourceStatus, cdcSourceStatus } from '../../connectors/postgres/cdc-status.js';
import type { PostgresSystemConfig } from '../../connectors/postgres/config.js';
import { type StagedState, stagedState } from '../../connectors/staged-tally.js';
import { percent } from '../../connectors/sync-report.js';
import { type CliContext, configuredTenant } from '../cli-context.js';
import { formatTable } from '../format-table.js';

export function registerStatusCommand(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description(
      'tenants, the last checkpoint of every source stream, open dead letters, and the state of each Postgres (CDC) source',
    )
    .option('--tenant <id>', 'only this tenant')
    .option('--json', 'print JSON instead of tables')
    .addHelpText(
      'after',
      `
Per stream (tenant × system × entity): live rows, tombstones, open dead letters and their share
of live rows plus dead letters (marked when over sync.maxDeadLetterShare, as reconcile counts
it), then the open dead letters grouped by reason with the first record ids.

Postgres sources: state is streaming (a sync holds the slot), idle (no sync runs; the slot keeps
the changes), snapshotting, failed, slot_missing or slot_lost (re-snapshot needed),
source_unreachable or no_checkpoint; "behind" is the source WAL the slot still retains.

Examples:
  $ trueup status --tenant acme
  $ trueup status --json`,
    )
    .action(async (opts: { tenant?: string; json?: boolean }, cmd: Command) => {
      await ctx.withRuntime(cmd, async (rt) => {
        if (opts.tenant) configuredTenant(rt.config, opts.tenant);
        const configured = Object.entries(rt.config.tenants).map(([id, t]) => ({
          id,
          ...(t.displayName ? { displayName: t.displayName } : {}),
        }));
        // Registering the configured tenants is the owner's (a scope cannot write control.tenants).
        await upsertTenants(rt.staging.db, configured);
        const st = opts.tenant ? tenantStaging(rt.staging, opts.tenant) : rt.staging;
        const tenants = (await listTenants(st.db)).filter((t) => !opts.tenant || t.id === opts.tenant);
        const checkpoints = await listCheckpoints(st.db, opts.tenant);
        const dead = (await countOpenDeadLetters(st.db)).filter(
          (d) => !opts.tenant || d.tenant === opts.tenant,
        );
        const streams = (await stagedState(st.pool, opts.tenant)).map((s) => {
          const share = s.live + s.openDeadLetters ? s.openDeadLetters / (s.live + s.openDeadLetters) : 0;
          const max = rt.config.tenants[s.tenant]?.sync.maxDeadLetterShare ?? 0.01;
          return { ...s, deadLetterShare: share, overThreshold: share > max };
        });
        const cdcSources = await Promise.all(
          Object.entries(rt.config.tenants)
            .filter(([id]) => !opts.tenant || id === opts.tenant)
            .flatMap(([id, t]) =>
              Object.entries(t.systems)
                .filter(([, s]) => s.kind === 'postgres')
                // Its staging read (the tenant's checkpoints) is scoped by listCheckpoints; the slot
                // claim's holder is read from pg_locks/pg_stat_activity as the owner, which a scope's
                // role would see without the reader's address and start.
                .map(([system, s]) => cdcSourceStatus(rt.staging, id, system, s as PostgresSystemConfig)),
            ),
        );
        if (opts.json) {
          ctx.out(
            `${JSON.stringify({ tenants, checkpoints, deadLetters: dead, streams, cdcSources }, null, 2)}\n`,
          );
          return;
        }
        ctx.out(`staging: ${rt.server.embedded ? 'embedded Postgres' : 'external Postgres'}\n\n`);
        ctx.out(
          `${formatTable(
            ['tenant', 'systems', 'open dead letters'],
            tenants.map((t) => [
              t.id,
              Object.keys(rt.config.tenants[t.id]?.systems ?? {}).join(', ') || '-',
              String(dead.filter((d) => d.tenant === t.id).reduce((n, d) => n + d.count, 0)),
            ]),
          )}\n`,
        );
        ctx.out(
          `${formatTable(
            ['tenant', 'system', 'stream', 'state', 'position', 'rows', 'updated'],
            checkpoints.map((c) => [
              c.tenant,
              c.system,
              c.stream,
              c.state + (c.detail ? ` (${c.detail})` : ''),
              JSON.stringify(c.position),
              String(c.rowsTotal),
              c.updatedAt.toISOString(),
            ]),
          )}\n`,
        );
        if (cdcSources.length) ctx.out(`${formatCdcSources(cdcSources)}\n`);
        if (streams.length) ctx.out(`${formatStreams(streams)}\n`);
      });
    });
}

/**
 * Per tenant × system × entity: live rows, tombstones, open dead letters and their share (as
 * reconcile counts it: of live rows plus dead letters), then the open dead letters by reason.
 */
function formatStreams(
  streams: readonly (StagedState & { deadLetterShare: number; overThreshold: boolean })[],
) {
  const lines = [
    formatTable(
      ['tenant', 'system', 'entity', 'live', 'tombstones', 'open dead letters', 'share'],
      streams.map((s) => [
        s.tenant,
        s.system,
        s.entity,
        String(s.live),
        String(s.tombstones),
        String(s.openDeadLetters),
        `${percent(s.deadLetterShare)}${s.overThreshold ? ' (over sync.maxDeadLetterShare)' : ''}`,
      ]),
    ),
  ];
  for (const s of streams)
    for (const g of s.reasons)
      lines.push(
        `${s.tenant}/${s.system} ${s.entity}: ${g.count} × ${g.kind}: ${g.reason} (e.g. ${g.sourceIds.map((id) => id ?? '(no id)').join(', ')})`,
      );
  return lines.join('\n');
}

function formatCdcSources(sources: readonly CdcSourceStatus[]): string {
  const lines = [
    formatTable(
      ['tenant', 'system', 'slot', 'state', 'checkpoint lsn', 'behind', 'wal_status', 'rows/s', 'reader'],
      sources.map((s) => [
        s.tenant,
        s.system,
        s.slot,
        s.state,
        s.checkpointLsn ?? '-',
        s.bytesBehind === null ? '-' : formatBytes(Number(s.bytesBehind)),
        s.walStatus ?? '-',
        s.rowsPerSecond === null ? '-' : String(s.rowsPerSecond),
        s.reader ? `${s.reader.applicationName} (since ${s.reader.since})` : '-',
      ]),
    ),
  ];
  for (const s of sources) {
    if (s.error) lines.push(`${s.tenant}/${s.system}: ${s.error}`);
    for (const t of s.stoppedTables)
      lines.push(`${s.tenant}/${s.system}: table ${t.table} stopped: ${t.reason}`);
  }
  return lines.join('\n');
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  for (; v >= 1024 && i < units.length - 1; i++) v /= 1024;
  return `${v.toFixed(1)} ${units[i]}`;
}

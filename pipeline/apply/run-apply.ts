// The apply step (docs/apply.md): a tenant's approved actions written to their target systems
// through the connectors' writers, exactly once. One apply of a tenant at a time (a session
// advisory lock). First what an interrupted apply left (recover.ts); then the approved actions,
// by target system and entity, in batches of the vendor's size (batch.ts: verdicts read from the
// system now, attempts logged, the write, the outcomes, under the actions' row locks). A crash
// anywhere leaves either nothing or a logged attempt that the next apply resolves by reading the
// target. A system that fails leaves its actions approved; the others go on. The dry-run reads
// the same and writes nothing, anywhere.
import type pg from 'pg';
import { tenantStaging } from '../../staging/scoped-staging.js';
import type { ConnectorWriter } from '../connectors/contract.js';
import { pendingEntries } from './apply-log.js';
import { ApplyError, type ApplyOptions, type ApplyReport } from './apply-types.js';
import { item, planBatch, writeBatch } from './batch.js';
import { recoverInterrupted } from './recover.js';
import { type Candidate, selectApproved } from './select-actions.js';

const DEFAULT_BATCH = 100;

export async function applyActions(options: ApplyOptions): Promise<ApplyReport> {
  // Everything an apply reads and writes in staging is its tenant's: in the tenant's scope.
  const o: ApplyOptions = { ...options, staging: tenantStaging(options.staging, options.tenant) };
  const pool = o.staging.pool;
  const systems = systemNames(o);
  const writers = new Map<string, ConnectorWriter>();
  const writerOf = (system: string): ConnectorWriter => {
    let w = writers.get(system);
    if (!w) {
      w = o.openWriter(system);
      writers.set(system, w);
    }
    return w;
  };
  const report: ApplyReport = {
    tenant: o.tenant,
    dryRun: !o.write,
    items: [],
    recovered: [],
    unaddressable: [],
    errors: [],
    counts: {},
  };
  let lock: pg.PoolClient | undefined;
  try {
    let blocked = new Set<string>();
    if (o.write) {
      lock = await tenantLock(pool, o.tenant);
      const r = await recoverInterrupted(pool, o.tenant, writerOf);
      report.recovered = r.recovered;
      blocked = r.blocked;
    } else {
      // The dry-run resolves nothing: an interrupted attempt's action is shown, not planned.
      const pending = await pendingEntries(pool, o.tenant);
      blocked = new Set(pending.map((e) => e.actionId));
      report.recovered = pending.map((e) => ({
        actionId: e.actionId,
        batch: e.batch.toString(),
        resolution: 'unresolved' as const,
        reason: `an interrupted apply may have written ${e.targetSystem}:${e.targetId ?? e.targetKey}; the next apply --yes asks ${e.targetSystem} and finishes it`,
      }));
    }
    const sel = await selectApproved(pool, {
      tenant: o.tenant,
      systems,
      ...(o.entity ? { entity: o.entity } : {}),
      ...(o.ids ? { ids: o.ids } : {}),
      ...(o.target ? { target: o.target } : {}),
    });
    report.unaddressable = sel.unaddressable;
    const candidates = sel.candidates.filter(
      (c) => !blocked.has(c.id) && (!o.onlyPolicyApproved || c.decidedBy?.startsWith('policy:')),
    );
    let done = 0;
    const progress = (n: number) => {
      done += n;
      o.hooks?.progress?.(done, candidates.length);
    };
    for (const group of groupsOf(candidates)) {
      let writer: ConnectorWriter;
      try {
        writer = writerOf(group[0]!.targetSystem);
      } catch (err) {
        for (const c of group)
          report.items.push(item(c, { do: 'hold', reason: (err as Error).message }, 'held'));
        progress(group.length);
        continue;
      }
      const size = Math.max(
        1,
        Math.min(writer.batchLimit ?? DEFAULT_BATCH, o.batchSize ?? Number.POSITIVE_INFINITY),
      );
      for (let i = 0; i < group.length; i += size) {
        const batch = group.slice(i, i + size);
        try {
          report.items.push(
            ...(o.write ? await writeBatch(o, writer, batch) : await planBatch(o, writer, batch)),
          );
          progress(batch.length);
        } catch (err) {
          // This system cannot be applied to now: its actions stay approved (and anything logged
          // pending); the tenant's other systems go on.
          const message = (err as Error).message;
          o.logger.error(
            { err, system: batch[0]!.targetSystem, entity: batch[0]!.entity },
            'apply batch failed',
          );
          const left = group.slice(i);
          report.errors.push({
            system: batch[0]!.targetSystem,
            entity: batch[0]!.entity,
            actions: left.map((c) => c.id),
            message,
          });
          for (const c of left) report.items.push(item(c, { do: 'hold', reason: '' }, 'not_now', message));
          progress(left.length);
          break;
        }
      }
    }
  } finally {
    for (const w of writers.values()) await w.close().catch(() => {});
    if (lock) {
      await lock
        .query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', ['trueup.apply', o.tenant])
        .catch(() => {});
      lock.release();
    }
  }
  report.items.sort((a, b) => a.actionId.length - b.actionId.length || a.actionId.localeCompare(b.actionId));
  for (const it of report.items) report.counts[it.outcome] = (report.counts[it.outcome] ?? 0) + 1;
  return report;
}

function systemNames(o: ApplyOptions): { crm: string; erp: string } {
  const named = (role: string) => Object.entries(o.config.systems).find(([, s]) => s.role === role)?.[0];
  const crm = named('crm');
  const erp = named('erp');
  if (!crm || !erp)
    throw new ApplyError(`tenant ${o.tenant} needs one system with role crm and one with role erp`, {
      subject: { tenant: o.tenant },
    });
  return { crm, erp };
}

async function tenantLock(pool: pg.Pool, tenant: string): Promise<pg.PoolClient> {
  const c = await pool.connect();
  // A killed apply's session may take a moment to end (its lock with it): ask a few times.
  for (let attempt = 0; attempt < 20; attempt++) {
    const res = await c.query<{ ok: boolean }>(
      'SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS ok',
      ['trueup.apply', tenant],
    );
    if (res.rows[0]?.ok) return c;
    await new Promise((r) => setTimeout(r, 250));
  }
  c.release();
  throw new ApplyError(
    `tenant ${tenant}: another \`trueup actions apply\` is running; try again when it ends`,
    {
      kind: 'transient',
      subject: { tenant },
    },
  );
}

/** Candidates by target system and entity, in the order of their first action. */
function groupsOf(list: readonly Candidate[]): Candidate[][] {
  const groups = new Map<string, Candidate[]>();
  for (const c of list) {
    const k = `${c.targetSystem}\0${c.entity}`;
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  return [...groups.values()];
}

// The first thing an apply does: finish what an interrupted one left `writing` in the apply log
// (a crash between the write and its bookkeeping). Each batch is resolved by asking its target
// (resolve-writes.ts): written → the action is applied (audited as recovered, by whoever started
// the write); not written → the attempt is abandoned and the action, still approved, is written by
// this apply, once; in doubt → skipped_stale. A batch whose target cannot be asked stays pending,
// and its actions are left out of this apply (`blocked`), so nothing is ever written twice.
import type pg from 'pg';
import type { ConnectorWriter } from '../connectors/contract.js';
import { finishLog, type PendingEntry, pendingEntries } from './apply-log.js';
import type { RecoveredItem } from './apply-types.js';
import { type Outcome, recordOutcomes } from './record-outcomes.js';
import { resolveWrites } from './resolve-writes.js';

interface ActionInfo {
  id: string;
  run_id: string;
  explanation: Record<string, unknown>;
  fields: Record<string, unknown>;
}

export async function recoverInterrupted(
  pool: pg.Pool,
  tenant: string,
  writerOf: (system: string) => ConnectorWriter,
): Promise<{ recovered: RecoveredItem[]; blocked: Set<string> }> {
  const recovered: RecoveredItem[] = [];
  const blocked = new Set<string>();
  const byBatch = new Map<bigint, PendingEntry[]>();
  for (const e of await pendingEntries(pool, tenant))
    byBatch.set(e.batch, [...(byBatch.get(e.batch) ?? []), e]);
  for (const [batch, entries] of byBatch) {
    let resolutions: Awaited<ReturnType<typeof resolveWrites>>;
    try {
      resolutions = await resolveWrites(writerOf(entries[0]!.targetSystem), batch, entries);
    } catch (err) {
      for (const e of entries) {
        blocked.add(e.actionId);
        recovered.push({
          actionId: e.actionId,
          batch: batch.toString(),
          resolution: 'unresolved',
          reason: `cannot ask ${e.targetSystem} whether the interrupted write landed: ${(err as Error).message}`,
        });
      }
      continue;
    }
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      const info = await c.query<ActionInfo>(
        `SELECT id::text, run_id, explanation, fields FROM control.actions
          WHERE tenant_id = $1 AND id = ANY($2::bigint[]) ORDER BY id FOR UPDATE`,
        [tenant, entries.map((e) => e.actionId)],
      );
      const byId = new Map(info.rows.map((r) => [r.id, r]));
      const outcomes: Outcome[] = [];
      const abandoned: PendingEntry[] = [];
      entries.forEach((e, i) => {
        const r = resolutions[i]!;
        const a = byId.get(e.actionId);
        recovered.push({
          actionId: e.actionId,
          batch: batch.toString(),
          resolution: r.state === 'written' ? 'applied' : r.state === 'not_written' ? 'retry' : 'in_doubt',
          reason: r.state === 'in_doubt' ? r.reason : null,
        });
        if (r.state === 'not_written' || !a) {
          abandoned.push(e);
          return;
        }
        outcomes.push({
          action: {
            id: e.actionId,
            runId: a.run_id,
            entity: e.entity,
            kind: e.kind,
            targetSystem: e.targetSystem,
            targetId: e.targetId ?? (r.state === 'written' ? r.now.id : null),
            key: e.targetKey,
            explanation: a.explanation,
            observedVersion: e.observedVersion,
            fields: e.fields,
          },
          status: r.state === 'written' ? 'applied' : 'skipped_stale',
          reason: r.state === 'in_doubt' ? r.reason : null,
          before: e.before,
          after:
            r.state === 'written'
              ? Object.fromEntries(Object.keys(e.fields).map((f) => [f, r.now.fields[f] ?? null]))
              : null,
          batch,
          logId: e.id,
          result: { resolved: r.state, ...(r.state === 'written' ? { id: r.now.id } : {}) },
          echoVersion: r.state === 'written' ? r.now.version : null,
          recovered: true,
        });
      });
      await recordOutcomes(c, tenant, entries[0]!.appliedBy, outcomes);
      await finishLog(
        c,
        tenant,
        abandoned.map((e) => ({
          id: e.id,
          state: 'abandoned' as const,
          result: { resolved: 'not_written' },
          echoVersion: null,
        })),
      );
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }
  return { recovered, blocked };
}

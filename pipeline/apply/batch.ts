// One batch of the apply step (run-apply.ts): the dry-run's plan of it, or its write — in one
// staging transaction holding the actions' row locks: the verdicts read from the system now
// (judge.ts), the attempts logged and committed on another connection, the write, the read-back
// (the audit's `after`, the echo's version), the outcomes recorded. A write call that fails
// without saying what it did is resolved by asking the target (resolve-writes.ts).
import type pg from 'pg';
import { errorKind } from '../../staging/model/errors.js';
import type { ConnectorWriter, CurrentRecord, WriteResult } from '../connectors/contract.js';
import { echoVersions, type LogEntry, logWriting, nextBatch } from './apply-log.js';
import type { ApplyItem, ApplyOptions, ItemOutcome } from './apply-types.js';
import { type JudgeContext, judge, type Verdict } from './judge.js';
import { type Outcome, recordOutcomes } from './record-outcomes.js';
import { resolveWrites } from './resolve-writes.js';
import type { Candidate } from './select-actions.js';

function context(o: ApplyOptions, echoes: JudgeContext['echoes']): JudgeContext {
  return {
    tenant: o.tenant,
    by: o.by,
    limits: o.config.actions.limits,
    requireDistinctApprover: o.config.actions.requireDistinctApprover,
    named: new Set(o.ids ?? []),
    ignored: (entity) =>
      new Set(o.config.entities[entity as keyof typeof o.config.entities]?.ignoreFields ?? []),
    echoes,
  };
}

async function echoesOf(db: pg.Pool | pg.ClientBase, o: ApplyOptions, batch: readonly Candidate[]) {
  return echoVersions(db, {
    tenant: o.tenant,
    system: batch[0]!.targetSystem,
    entity: batch[0]!.entity,
    targetIds: batch.flatMap((c) => (c.targetId ? [c.targetId] : [])),
  });
}

export function item(c: Candidate, v: Verdict, outcome: ItemOutcome, reason?: string | null): ApplyItem {
  const before = v.do === 'hold' ? null : (v.before ?? null);
  const fields = v.do === 'write' ? v.write.fields : c.fields;
  return {
    actionId: c.id,
    entity: c.entity,
    kind: c.kind,
    targetSystem: c.targetSystem,
    targetId: c.targetId,
    key: c.key,
    changes: Object.entries(fields).map(([field, next]) => ({
      field,
      current: before ? (before[field] ?? null) : undefined,
      next,
    })),
    outcome,
    reason: reason !== undefined ? reason : v.do === 'write' ? null : v.reason,
    dropped: v.do === 'write' ? v.dropped : [],
  };
}

const DRY: Record<Verdict['do'], ItemOutcome> = {
  write: 'would_apply',
  stale: 'would_skip_stale',
  refuse: 'would_fail',
  hold: 'held',
};

export async function planBatch(
  o: ApplyOptions,
  writer: ConnectorWriter,
  batch: Candidate[],
): Promise<ApplyItem[]> {
  const verdicts = await judge(batch, writer, context(o, await echoesOf(o.staging.pool, o, batch)));
  return batch.map((c, i) => item(c, verdicts[i]!, DRY[verdicts[i]!.do]));
}

function outcomeOf(
  c: Candidate,
  status: Outcome['status'],
  v: Verdict,
  extra: Partial<Outcome> = {},
): Outcome {
  return {
    action: {
      id: c.id,
      runId: c.runId,
      entity: c.entity,
      kind: c.kind,
      targetSystem: c.targetSystem,
      targetId: c.targetId,
      key: c.key,
      explanation: c.explanation,
      observedVersion: c.observedVersion,
      fields: v.do === 'write' ? { ...v.write.fields } : c.fields,
    },
    status,
    reason: v.do === 'write' ? null : v.reason,
    before: v.do === 'hold' ? null : (v.before ?? null),
    after: null,
    batch: null,
    logId: null,
    ...extra,
  };
}

export async function writeBatch(
  o: ApplyOptions,
  writer: ConnectorWriter,
  group: Candidate[],
): Promise<ApplyItem[]> {
  const pool = o.staging.pool;
  const c1 = await pool.connect();
  try {
    await c1.query('BEGIN');
    const locked = await c1.query<{ id: string; status: string }>(
      `SELECT id::text AS id, status FROM control.actions
        WHERE tenant_id = $1 AND id = ANY($2::bigint[]) ORDER BY id FOR UPDATE`,
      [o.tenant, group.map((c) => c.id)],
    );
    const status = new Map(locked.rows.map((r) => [r.id, r.status]));
    const items: ApplyItem[] = [];
    const batch = group.filter((c) => {
      if (status.get(c.id) === 'approved') return true;
      items.push(
        item(c, { do: 'hold', reason: '' }, 'decided_meanwhile', `now ${status.get(c.id) ?? 'gone'}`),
      );
      return false;
    });
    const verdicts = await judge(batch, writer, context(o, await echoesOf(c1, o, batch)));
    const outcomes: Outcome[] = [];
    const writes: { c: Candidate; v: Extract<Verdict, { do: 'write' }> }[] = [];
    batch.forEach((c, i) => {
      const v = verdicts[i]!;
      if (v.do === 'hold') items.push(item(c, v, 'held'));
      else if (v.do === 'stale') outcomes.push(outcomeOf(c, 'skipped_stale', v));
      else if (v.do === 'refuse') outcomes.push(outcomeOf(c, 'failed', v, { code: 'NOT_WRITABLE' }));
      else writes.push({ c, v });
    });
    if (writes.length) outcomes.push(...(await write(o, writer, writes)));
    await recordOutcomes(c1, o.tenant, o.by, outcomes);
    await c1.query('COMMIT');
    const byId = new Map(batch.map((c, i) => [c.id, { c, v: verdicts[i]! }]));
    for (const out of outcomes) {
      const { c, v } = byId.get(out.action.id)!;
      items.push(item(c, v, out.status, out.reason));
    }
    return items;
  } catch (err) {
    await c1.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c1.release();
  }
}

/** Logs, writes and reads back one batch's writes; the outcomes for the caller's transaction. */
async function write(
  o: ApplyOptions,
  writer: ConnectorWriter,
  writes: { c: Candidate; v: Extract<Verdict, { do: 'write' }> }[],
): Promise<Outcome[]> {
  const pool = o.staging.pool;
  const entity = writes[0]!.c.entity;
  const batch = await nextBatch(pool);
  const entries: LogEntry[] = writes.map(({ c, v }) => ({
    tenant: o.tenant,
    batch,
    actionId: c.id,
    idempotencyKey: c.idempotencyKey,
    targetSystem: c.targetSystem,
    entity,
    kind: c.kind,
    targetKey: c.key,
    targetId: c.targetId,
    observedVersion: c.staged?.version ?? c.observedVersion,
    fields: { ...v.write.fields },
    before: v.before,
    appliedBy: o.by,
  }));
  const logIds = await logWriting(pool, entries);
  await o.hooks?.beforeWrite?.(batch);
  let results: WriteResult[] | null = null;
  let thrown: unknown;
  try {
    results = await writer.upsert(
      entity,
      writes.map((w) => w.v.write),
      { batch },
    );
  } catch (err) {
    thrown = err;
    o.logger.warn(
      { err, batch: batch.toString(), tenant: o.tenant },
      'write call failed; asking the target what it did',
    );
  }
  await o.hooks?.afterWrite?.(batch);
  const base = (i: number, status: Outcome['status'], extra: Partial<Outcome>) =>
    outcomeOf(writes[i]!.c, status, writes[i]!.v, { batch, logId: logIds[i]!, ...extra });
  let outcomes: Outcome[];
  if (results) {
    outcomes = results.map((r, i) =>
      r.ok
        ? base(i, 'applied', { result: { id: r.id, created: r.created } })
        : r.error?.code === 'STALE'
          ? base(i, 'skipped_stale', { reason: r.error.message, result: { error: r.error } })
          : base(i, 'failed', {
              reason: r.error?.message ?? 'the target system refused the record',
              code: r.error?.code ?? 'ERROR',
              result: { error: r.error ?? null },
            }),
    );
  } else {
    const message = (thrown as Error)?.message ?? String(thrown);
    let resolved: Awaited<ReturnType<typeof resolveWrites>>;
    try {
      resolved = await resolveWrites(writer, batch, entries);
    } catch (err) {
      // Cannot tell now: the attempts stay logged; the next apply asks again (nothing is rewritten).
      if (errorKind(err) !== 'terminal' || errorKind(thrown) !== 'terminal') throw thrown;
      resolved = entries.map(() => ({ state: 'not_written' as const }));
    }
    outcomes = resolved.map((r, i) =>
      r.state === 'written'
        ? base(i, 'applied', { result: { id: r.now.id, resolved: 'written' }, echoVersion: r.now.version })
        : r.state === 'not_written'
          ? base(i, 'failed', { reason: message, code: (thrown as { code?: string })?.code ?? 'ERROR' })
          : base(i, 'skipped_stale', { reason: r.reason }),
    );
  }
  await readBack(writer, entity, writes, outcomes);
  return outcomes;
}

/** The written records as they are now: `after` for the audit, and their version (the echo to expect). */
async function readBack(
  writer: ConnectorWriter,
  entity: Candidate['entity'],
  writes: { c: Candidate; v: Extract<Verdict, { do: 'write' }> }[],
  outcomes: Outcome[],
): Promise<void> {
  const applied = outcomes.map((out, i) => ({ out, i })).filter((x) => x.out.status === 'applied');
  if (!applied.length || !writer.read) return;
  let now: CurrentRecord[];
  try {
    now = await writer.read(
      entity,
      applied.map(({ i }) => ({ key: writes[i]!.c.key, targetId: writes[i]!.c.targetId })),
    );
  } catch {
    return; // the write is done; only the audit's `after` and the echo version are missing
  }
  applied.forEach(({ out, i }, k) => {
    const rec = now[k];
    if (!rec?.found) return;
    out.after = Object.fromEntries(
      Object.keys(writes[i]!.v.write.fields).map((f) => [f, rec.fields[f] ?? null]),
    );
    out.echoVersion ??= rec.version;
    if (out.action.targetId === null) out.action.targetId = rec.id;
  });
}

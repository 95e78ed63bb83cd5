// The apply step (docs/apply.md): a tenant's approved actions written to their target systems
// through the connectors' writers, exactly once. One apply of a tenant at a time (a session
// advisory lock). First what an interrupted apply left (recover.ts); then the approved actions,
// by target system and entity, in batches of the vendor's size. Per batch, in one staging
// transaction that holds the actions' row locks (a reviewer deciding waits): the verdicts, read
// from the system now (judge.ts); the attempts logged and committed on another connection; the
// write; the outcomes recorded (record-outcomes.ts). A crash anywhere leaves either nothing or a
// logged attempt that the next apply resolves by reading the target. The dry-run reads the same
// and writes nothing, anywhere.
import type pg from 'pg';
import { errorKind } from '../../staging/model/errors.js';
import type { ConnectorWriter, CurrentRecord, WriteResult } from '../connectors/contract.js';
import { echoVersions, type LogEntry, logWriting, nextBatch, pendingEntries } from './apply-log.js';
import {
  ApplyError,
  type ApplyItem,
  type ApplyOptions,
  type ApplyReport,
  type ItemOutcome,
} from './apply-types.js';
import { type JudgeContext, judge, type Verdict } from './judge.js';
import { type Outcome, recordOutcomes } from './record-outcomes.js';
import { recoverInterrupted } from './recover.js';
import { resolveWrites } from './resolve-writes.js';
import { type Candidate, selectApproved } from './select-actions.js';

const DEFAULT_BATCH = 100;

export async function applyActions(o: ApplyOptions): Promise<ApplyReport> {
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
    for (const group of groupsOf(candidates)) {
      let writer: ConnectorWriter;
      try {
        writer = writerOf(group[0]!.targetSystem);
      } catch (err) {
        for (const c of group)
          report.items.push(item(c, { do: 'hold', reason: (err as Error).message }, 'held'));
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

function item(c: Candidate, v: Verdict, outcome: ItemOutcome, reason?: string | null): ApplyItem {
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

async function planBatch(o: ApplyOptions, writer: ConnectorWriter, batch: Candidate[]): Promise<ApplyItem[]> {
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
    before: v.do === 'write' || v.do === 'stale' ? v.before : null,
    after: null,
    batch: null,
    logId: null,
    ...extra,
  };
}

async function writeBatch(
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

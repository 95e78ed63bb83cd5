// control.apply_log (migration 0012): one row per action per attempt to write it. `writing` is
// committed, on its own connection, before the write leaves trueup; the row is finished (written,
// failed, stale, abandoned) in the transaction that records the action's outcome. A row left
// `writing` by a crash is resolved by the next apply (recover.ts), which reads the target rather
// than writing again. docs/apply.md, "Exactly once".
import type pg from 'pg';

export const LOG_STATES = ['writing', 'written', 'failed', 'stale', 'abandoned'] as const;
export type LogState = (typeof LOG_STATES)[number];

/** One attempt as logged before the write. */
export interface LogEntry {
  tenant: string;
  batch: bigint;
  actionId: string;
  idempotencyKey: string;
  targetSystem: string;
  entity: string;
  kind: 'upsert' | 'create';
  targetKey: string;
  targetId: string | null;
  observedVersion: string | null;
  fields: Record<string, unknown>;
  before: Record<string, unknown> | null;
  appliedBy: string;
}

/** An attempt still `writing` (its batch may or may not have reached the target). */
export interface PendingEntry extends LogEntry {
  id: string;
}

/** A new batch number (one write call). */
export async function nextBatch(db: pg.Pool | pg.ClientBase): Promise<bigint> {
  const res = await db.query<{ n: string }>(`SELECT nextval('control.apply_batches')::text AS n`);
  return BigInt(res.rows[0]!.n);
}

/** Logs the attempts as `writing` and commits them (autocommit on `pool`); returns their ids in order. */
export async function logWriting(pool: pg.Pool, entries: readonly LogEntry[]): Promise<string[]> {
  if (!entries.length) return [];
  const res = await pool.query<{ id: string; action_id: string }>(
    `INSERT INTO control.apply_log (tenant_id, batch, action_id, idempotency_key, target_system, entity, kind,
        target_key, target_id, observed_version, fields, before, applied_by)
     SELECT x.tenant_id, x.batch, x.action_id, x.idempotency_key, x.target_system, x.entity, x.kind, x.target_key,
            x.target_id, x.observed_version, x.fields, x.before, x.applied_by
       FROM jsonb_to_recordset($1::jsonb) AS x(tenant_id text, batch bigint, action_id bigint,
            idempotency_key text, target_system text, entity text, kind text, target_key text, target_id text,
            observed_version bigint, fields jsonb, before jsonb, applied_by text)
     RETURNING id::text AS id, action_id::text AS action_id`,
    [
      JSON.stringify(
        entries.map((e) => ({
          tenant_id: e.tenant,
          batch: e.batch.toString(),
          action_id: e.actionId,
          idempotency_key: e.idempotencyKey,
          target_system: e.targetSystem,
          entity: e.entity,
          kind: e.kind,
          target_key: e.targetKey,
          target_id: e.targetId,
          observed_version: e.observedVersion,
          fields: e.fields,
          before: e.before,
          applied_by: e.appliedBy,
        })),
      ),
    ],
  );
  const ids = new Map(res.rows.map((r) => [r.action_id, r.id]));
  return entries.map((e) => ids.get(e.actionId)!);
}

/** Finishes logged attempts inside the caller's transaction. */
export async function finishLog(
  client: pg.ClientBase,
  tenant: string,
  done: readonly {
    id: string;
    state: Exclude<LogState, 'writing'>;
    result: unknown;
    echoVersion: bigint | null;
  }[],
): Promise<void> {
  if (!done.length) return;
  await client.query(
    `UPDATE control.apply_log l
        SET state = x.state, result = x.result, echo_version = x.echo_version, finished_at = now()
       FROM jsonb_to_recordset($2::jsonb) AS x(id bigint, state text, result jsonb, echo_version bigint)
      WHERE l.tenant_id = $1 AND l.id = x.id AND l.state = 'writing'`,
    [
      tenant,
      JSON.stringify(
        done.map((d) => ({
          id: d.id,
          state: d.state,
          result: d.result ?? null,
          echo_version: d.echoVersion?.toString() ?? null,
        })),
      ),
    ],
  );
}

/** The attempts of a tenant still `writing`, oldest batch first. */
export async function pendingEntries(db: pg.Pool | pg.ClientBase, tenant: string): Promise<PendingEntry[]> {
  const res = await db.query(
    `SELECT id::text, batch::text, action_id::text, idempotency_key, target_system, entity, kind, target_key,
            target_id, observed_version::text, fields, before, applied_by
       FROM control.apply_log WHERE tenant_id = $1 AND state = 'writing' ORDER BY batch, id`,
    [tenant],
  );
  return res.rows.map((r) => ({
    id: r.id,
    tenant,
    batch: BigInt(r.batch),
    actionId: r.action_id,
    idempotencyKey: r.idempotency_key,
    targetSystem: r.target_system,
    entity: r.entity,
    kind: r.kind,
    targetKey: r.target_key,
    targetId: r.target_id,
    observedVersion: r.observed_version,
    fields: r.fields,
    before: r.before,
    appliedBy: r.applied_by,
  }));
}

/**
 * The versions at which trueup's own writes of these records came back (echo_version of written
 * attempts), by target id: a staged version among them is our echo, not someone else's change.
 */
export async function echoVersions(
  db: pg.Pool | pg.ClientBase,
  q: { tenant: string; system: string; entity: string; targetIds: readonly string[] },
): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  if (!q.targetIds.length) return out;
  const res = await db.query<{ target_id: string; v: string }>(
    `SELECT target_id, echo_version::text AS v FROM control.apply_log
      WHERE tenant_id = $1 AND target_system = $2 AND entity = $3 AND target_id = ANY($4::text[])
        AND state = 'written' AND echo_version IS NOT NULL`,
    [q.tenant, q.system, q.entity, q.targetIds],
  );
  for (const r of res.rows) {
    const set = out.get(r.target_id) ?? new Set<string>();
    set.add(r.v);
    out.set(r.target_id, set);
  }
  return out;
}

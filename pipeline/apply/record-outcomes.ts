// The bookkeeping of a batch, in the caller's transaction (which holds the actions' row locks): each
// action's new status (applied, failed, skipped_stale — action-states.ts), an audit row per action
// (who, when, target, before, after, run, rule), a dead letter per failure, and the apply log's
// attempts finished. docs/apply.md, "What is recorded".
import type pg from 'pg';
import { actionTransition } from '../../staging/control/action-states.js';
import { type AuditAction, auditSubject } from '../../staging/control/audit.js';
import { addDeadLetters } from '../../staging/control/dead-letters.js';
import { finishLog } from './apply-log.js';

/** The audit actions the apply step writes (control.audit.action). */
export const APPLY_AUDIT_ACTIONS = [
  'action.apply',
  'action.fail',
  'action.stale',
] as const satisfies readonly AuditAction[];

export type OutcomeStatus = 'applied' | 'failed' | 'skipped_stale';

export interface Outcome {
  action: {
    id: string;
    runId: string;
    entity: string;
    kind: string;
    targetSystem: string;
    targetId: string | null;
    key: string;
    explanation: Record<string, unknown>;
    observedVersion: string | null;
    fields: Record<string, unknown>;
  };
  status: OutcomeStatus;
  /** The error or the stale reason. */
  reason: string | null;
  /** The vendor's error code of a failure. */
  code?: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  batch: bigint | null;
  /** The apply log attempt this outcome finishes. */
  logId: string | null;
  /** The writer's answer (id, created) or how a crash was resolved. */
  result?: unknown;
  echoVersion?: bigint | null;
  /** Resolved after an interrupted apply (by reading the target). */
  recovered?: boolean;
}

const EVENT = { applied: 'apply', failed: 'fail', skipped_stale: 'supersede' } as const;
const AUDIT = { applied: 'action.apply', failed: 'action.fail', skipped_stale: 'action.stale' } as const;
const LOG = { applied: 'written', failed: 'failed', skipped_stale: 'stale' } as const;

/** The survivorship rule behind each field (`{field: rule}`), or a create's reason. */
function rulesOf(explanation: Record<string, unknown>): unknown {
  if (Array.isArray(explanation.fields))
    return Object.fromEntries(
      (explanation.fields as { field?: unknown; rule?: unknown; winner?: unknown }[]).map((w) => [
        String(w.field),
        `${String(w.rule)} → ${String(w.winner)}`,
      ]),
    );
  return explanation.reason ?? null;
}

/**
 * Records the outcomes; an action no longer `approved` (decided otherwise meanwhile) keeps its
 * status, and its audit row says what happened to the write. Returns the ids whose status changed.
 */
export async function recordOutcomes(
  client: pg.ClientBase,
  tenant: string,
  by: string,
  outcomes: readonly Outcome[],
): Promise<Set<string>> {
  if (!outcomes.length) return new Set();
  const rows = outcomes.map((o) => ({
    id: o.action.id,
    status: actionTransition('approved', EVENT[o.status]),
    error: o.status === 'applied' ? null : o.reason,
  }));
  const res = await client.query<{ id: string }>(
    `UPDATE control.actions a
        SET status = x.status, error = x.error, applied_at = CASE WHEN x.status = 'applied' THEN now() END
       FROM jsonb_to_recordset($2::jsonb) AS x(id bigint, status text, error text)
      WHERE a.tenant_id = $1 AND a.id = x.id AND a.status = 'approved'
      RETURNING a.id::text AS id`,
    [tenant, JSON.stringify(rows)],
  );
  const changed = new Set(res.rows.map((r) => r.id));
  await client.query(
    `INSERT INTO control.audit (tenant_id, actor, action, subject, detail)
     SELECT $1, $2, x.action, x.subject, x.detail
       FROM jsonb_to_recordset($3::jsonb) AS x(action text, subject text, detail jsonb)`,
    [
      tenant,
      by,
      JSON.stringify(
        outcomes.map((o) => ({
          action: AUDIT[o.status],
          subject: auditSubject('action', o.action.id),
          detail: {
            entity: o.action.entity,
            kind: o.action.kind,
            targetSystem: o.action.targetSystem,
            targetId: o.action.targetId,
            key: o.action.key,
            before: o.before,
            after: o.after,
            run: o.action.runId,
            rules: rulesOf(o.action.explanation),
            observedVersion: o.action.observedVersion,
            batch: o.batch?.toString() ?? null,
            ...(o.reason ? { reason: o.reason } : {}),
            ...(o.recovered ? { recovered: true } : {}),
            ...(changed.has(o.action.id)
              ? {}
              : { note: 'the action was no longer approved; its status was kept' }),
          },
        })),
      ),
    ],
  );
  await addDeadLetters(
    client,
    outcomes
      .filter((o) => o.status === 'failed')
      .map((o) => ({
        tenant,
        system: o.action.targetSystem,
        entity: o.action.entity,
        sourceId: o.action.targetId ?? o.action.key,
        record: { action: o.action.id, kind: o.action.kind, key: o.action.key, fields: o.action.fields },
        errorKind: 'write_rejected',
        errorMessage: `tenant ${tenant}, system ${o.action.targetSystem}, entity ${o.action.entity}, action ${o.action.id}: ${o.code ? `${o.code}: ` : ''}${o.reason ?? 'failed'}`,
        location: o.batch !== null ? `apply batch ${o.batch}` : 'apply',
      })),
  );
  await finishLog(
    client,
    tenant,
    outcomes
      .filter((o) => o.logId !== null)
      .map((o) => ({
        id: o.logId!,
        state: LOG[o.status],
        result: o.result ?? (o.reason ? { error: o.reason, ...(o.code ? { code: o.code } : {}) } : null),
        echoVersion: o.echoVersion ?? null,
      })),
  );
  return changed;
}

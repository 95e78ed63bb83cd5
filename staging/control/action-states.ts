// The kinds and statuses of control.actions (the corrections a run proposes), declared once and
// tested against the migrations' CHECK constraints, and an action's lifecycle as a transition
// table. docs/review.md tells the story; actions.ts and lifecycle/write-results.ts apply it.
import { NEW, statusesAllowing, type TransitionTable, transitionOf } from './transition-table.js';

export const ACTION_KINDS = ['upsert', 'create'] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

export const ACTION_STATUSES = [
  'proposed',
  'approved',
  'rejected',
  'applied',
  'failed',
  'skipped_stale',
] as const;
export type ActionStatus = (typeof ACTION_STATUSES)[number];

/**
 * `propose` / `auto_approve`: a run plans the correction under policy propose / auto_approve.
 * `approve`, `reject`: a reviewer decides. `supersede`: a later run no longer proposes it.
 * `withdraw`: a reviewer accepted the discrepancy it would correct. `apply`, `fail`: the writer
 * (the apply step, not built yet) wrote it or gave up.
 */
export type ActionEvent =
  | 'propose'
  | 'auto_approve'
  | 'approve'
  | 'reject'
  | 'supersede'
  | 'withdraw'
  | 'apply'
  | 'fail';

/**
 * ```
 *   (new) ──propose──> proposed ──approve──> approved ──apply──> applied
 *     └──auto_approve─────────────────────────^    └────fail───> failed
 *   proposed, approved ──reject──> rejected
 *   proposed, approved ──supersede, withdraw──> skipped_stale ──propose──> proposed
 *                                                      └──auto_approve──> approved
 * ```
 * Invariants:
 *  A1 rejected, applied and failed are final. A run proposing an approved or rejected correction
 *     again leaves the decision as it is.
 *  A2 One correction of one observed version has one row (idempotency key): a run proposing it
 *     again changes nothing, unless the row is skipped_stale because a run or an acceptance
 *     withdrew it ("superseded by run …"): then it is proposed (or approved) again.
 *  A3 Undecided actions (proposed, approved) that a run no longer proposes become skipped_stale:
 *     an approval covers one version of the record, and the data has moved on.
 *  A4 proposed and approved are the undecided statuses, found through the partial index
 *     actions_undecided.
 */
export const ACTION_TRANSITIONS: TransitionTable<ActionStatus, ActionEvent> = {
  [NEW]: { propose: 'proposed', auto_approve: 'approved' },
  proposed: {
    approve: 'approved',
    reject: 'rejected',
    supersede: 'skipped_stale',
    withdraw: 'skipped_stale',
  },
  approved: {
    reject: 'rejected',
    supersede: 'skipped_stale',
    withdraw: 'skipped_stale',
    apply: 'applied',
    fail: 'failed',
  },
  skipped_stale: { propose: 'proposed', auto_approve: 'approved' },
  rejected: {},
  applied: {},
  failed: {},
};

export const actionTransition = transitionOf('control.actions', ACTION_TRANSITIONS);

/** The statuses in which `event` is allowed. */
export const actionStatusesAllowing = (event: ActionEvent) =>
  statusesAllowing(ACTION_STATUSES, ACTION_TRANSITIONS, event);

/** Undecided actions (A4): those a run supersedes. */
export const UNDECIDED_ACTION_STATUSES = actionStatusesAllowing('supersede');

/** The reason a run or an acceptance writes on the actions it withdraws (A2 brings only these back). */
export const SUPERSEDED_PREFIX = 'superseded by run ';

// The statuses of control.runs (one row per reconcile run of a tenant), declared once and tested
// against the migrations' CHECK constraint, and a run's lifecycle as a transition table.
import { NEW, statusesAllowing, type TransitionTable, transitionOf } from './transition-table.js';

export const RUN_KINDS = ['reconcile'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

export const RUN_STATUSES = ['running', 'succeeded', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** `start`: the run is recorded. `succeed` / `fail`: its summary is written, without or with errors. */
export type RunEvent = 'start' | 'succeed' | 'fail';

/**
 * ```
 *   (new) ──start──> running ──succeed──> succeeded
 *                       └──────fail─────> failed
 * ```
 * Invariants:
 *  R1 A run leaves `running` exactly once; succeeded and failed are final.
 *  R2 A run whose summary.json or final record cannot be written is failed with that error, so no
 *     run stays `running` after its process went on (best effort when Postgres itself failed).
 */
export const RUN_TRANSITIONS: TransitionTable<RunStatus, RunEvent> = {
  [NEW]: { start: 'running' },
  running: { succeed: 'succeeded', fail: 'failed' },
  succeeded: {},
  failed: {},
};

export const runTransition = transitionOf('control.runs', RUN_TRANSITIONS);

/** The statuses a run can finish from (R1). */
export const UNFINISHED_RUN_STATUSES = statusesAllowing(RUN_STATUSES, RUN_TRANSITIONS, 'fail');

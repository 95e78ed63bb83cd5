// The statuses of control.dead_letters, declared once and tested against the migrations' CHECK
// constraint, and a dead letter's lifecycle as a transition table (dead-letters.ts applies it).
import { NEW, statusesAllowing, type TransitionTable, transitionOf } from './transition-table.js';

export const DEAD_LETTER_STATUSES = ['open', 'replayed', 'discarded'] as const;
export type DeadLetterStatus = (typeof DEAD_LETTER_STATUSES)[number];

/**
 * `fail`: a record could not be staged (again). `replay`: `dlq replay` staged it. `replay_failed`:
 * the replay failed too. `discard`: `dlq discard`.
 */
export type DeadLetterEvent = 'fail' | 'replay' | 'replay_failed' | 'discard';

/**
 * ```
 *   (new) ──fail──> open ──replay──> replayed
 *                   │ ^ └──discard──> discarded
 *                   └─┘ fail, replay_failed (attempts + 1)
 * ```
 * Invariants:
 *  L1 One open row per tenant and fingerprint (system, entity, record, error kind): the same
 *     record failing the same way again bumps attempts. After it was replayed or discarded, a
 *     new failure opens a new row.
 *  L2 replayed and discarded are final and kept for audit.
 *  L3 A failed replay keeps the original error message and location; its own reason goes to
 *     last_replay_error.
 *  L4 A replay stages the record and marks it replayed in one transaction.
 */
export const DEAD_LETTER_TRANSITIONS: TransitionTable<DeadLetterStatus, DeadLetterEvent> = {
  [NEW]: { fail: 'open' },
  open: { fail: 'open', replay: 'replayed', replay_failed: 'open', discard: 'discarded' },
  replayed: {},
  discarded: {},
};

export const deadLetterTransition = transitionOf('control.dead_letters', DEAD_LETTER_TRANSITIONS);

/** The statuses in which `event` is allowed. */
export const deadLetterStatusesAllowing = (event: DeadLetterEvent) =>
  statusesAllowing(DEAD_LETTER_STATUSES, DEAD_LETTER_TRANSITIONS, event);

// The classes and statuses of control.discrepancies, declared once (the migrations' CHECK
// constraints are tested against them), and a discrepancy's lifecycle as a transition table.
// docs/review.md tells the story; lifecycle/write-results.ts and discrepancies.ts apply it.
import { NEW, statusesAllowing, type TransitionTable, transitionOf } from './transition-table.js';

export const DISCREPANCY_CLASSES = [
  'missing_in_erp',
  'missing_in_crm',
  'field_mismatch',
  'duplicate_match',
  'deleted_in_one',
  // A record whose counterpart could not be staged (an open dead letter), or a reference whose
  // target is not linked yet: nothing can be said either way. Never material (migration 0011).
  'unverifiable',
] as const;
export type DiscrepancyClass = (typeof DISCREPANCY_CLASSES)[number];

/** Each class's column header in the summary tables (`trueup reconcile`, `trueup demo`). */
export const CLASS_COLUMN: Readonly<Record<DiscrepancyClass, string>> = {
  missing_in_erp: 'miss_erp',
  missing_in_crm: 'miss_crm',
  field_mismatch: 'field',
  duplicate_match: 'dup',
  deleted_in_one: 'deleted',
  unverifiable: 'unverif',
};

/** In the order a reviewer meets them. */
export const DISCREPANCY_STATUSES = ['open', 'accepted', 'resolved'] as const;
export type DiscrepancyStatus = (typeof DISCREPANCY_STATUSES)[number];

/**
 * `seen`: a run found it. `gone`: a run examined its records and did not find it.
 * `gone_in_flight`: in-flight confirmation found it no longer holds. `accept`: a reviewer accepts it.
 */
export type DiscrepancyEvent = 'seen' | 'gone' | 'gone_in_flight' | 'accept';

/**
 * ```
 *   (new) ──seen──> open ──accept──> accepted     seen keeps open open and accepted accepted;
 *     │              │ ^                │          accept again replaces who and why
 *     │          gone│ │seen            │gone
 *     │              v │                v
 *     └─gone_in_flight─> resolved <─────┘          gone_in_flight: from every status
 * ```
 * Invariants:
 *  D1 A discrepancy's identity (tenant, entity, match key, class, field) never changes, and its
 *     row is never deleted: history stays.
 *  D2 Only a run resolves (gone, gone_in_flight) or reopens (seen while resolved: runs_open and
 *     first_seen start again).
 *  D3 Only a reviewer accepts, never a resolved discrepancy (there is nothing left to accept).
 *  D4 An accepted discrepancy a run sees again stays accepted and gets no corrective action.
 *  D5 open and accepted are the live statuses: counted by runs, carried forward by incremental
 *     runs, found through the partial index discrepancies_live.
 */
export const DISCREPANCY_TRANSITIONS: TransitionTable<DiscrepancyStatus, DiscrepancyEvent> = {
  [NEW]: { seen: 'open', gone_in_flight: 'resolved' },
  open: { seen: 'open', gone: 'resolved', gone_in_flight: 'resolved', accept: 'accepted' },
  accepted: { seen: 'accepted', gone: 'resolved', gone_in_flight: 'resolved', accept: 'accepted' },
  resolved: { seen: 'open', gone_in_flight: 'resolved' },
};

export const discrepancyTransition = transitionOf('control.discrepancies', DISCREPANCY_TRANSITIONS);

/** The statuses in which `event` is allowed. */
export const discrepancyStatusesAllowing = (event: DiscrepancyEvent) =>
  statusesAllowing(DISCREPANCY_STATUSES, DISCREPANCY_TRANSITIONS, event);

/** The live statuses (D5): those a run can find gone. */
export const LIVE_DISCREPANCY_STATUSES = discrepancyStatusesAllowing('gone');

/** A discrepancy's identity within its tenant and entity: `class|matchKey|field`. */
export const discrepancyIdentity = (d: { class: string; matchKey: string; field: string }) =>
  `${d.class}|${d.matchKey}|${d.field}`;

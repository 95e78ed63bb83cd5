// The life of one CDC source as an explicit state machine. Pure: the driver (sync-source.ts)
// performs the effects and feeds the outcomes back as events; time comes in as arguments.
//
//   start ──> claiming ──claim_busy──> waiting ──wait_elapsed──┐
//               ^   │ ^──────────────────────────────────────────┘
//               │   claimed
//               │   v
//               │ connecting ──connected(snapshot)──> snapshotting
//               │   │   └──connected(stream)──┐          │
//               │   │                         v          │
//               │   │                     streaming <─snapshot_done
//               │   │                         │  └── caught_up (--once) / stop ──> stopped
//     backoff_elapsed       transient_error (any state but backing-off)
//               │                             v
//               └────────────────────── backing-off
//
//   terminal_error or stop (any state) ──> stopped
//
// Invariants (see README "Postgres sources (CDC)", the stream reader and the group committer):
//  I1 A slot position is acknowledged only after the staging transaction holding every change
//     up to it has committed, and never beyond the stored checkpoint.
//  I2 Staging versions of one row only grow: snapshot rows carry the consistent point, streamed
//     rows their commit LSN, and the staging write path ignores older versions.
//  I3 A missing or invalidated slot with a stored checkpoint is terminal: trueup never silently
//     restarts from "now" (that would lose the changes in between).
//  I4 Backoff grows geometrically from backoffMinMs, is capped at backoffMaxMs, and resets after
//     the source made progress (snapshot done or changes committed). Waiting for a claim held
//     by another reader is not a failure: it retries every claimRetryMs and does not back off.
//  I5 `stopped` is final; every state can reach it through stop or a terminal error.
//  I6 Only the holder of a slot's claim (slot-claim.ts) connects, snapshots or streams; every
//     attempt after a failure starts by claiming again, and losing the claim is a transient error.

export type SourceState =
  | 'claiming'
  | 'waiting'
  | 'connecting'
  | 'snapshotting'
  | 'streaming'
  | 'backing-off'
  | 'stopped';

export type SourceEvent =
  | { type: 'claimed' }
  | { type: 'claim_busy' }
  | { type: 'wait_elapsed' }
  | { type: 'connected'; needsSnapshot: boolean }
  | { type: 'snapshot_done' }
  | { type: 'progress' }
  | { type: 'caught_up' }
  | { type: 'transient_error'; error: Error }
  | { type: 'terminal_error'; error: Error }
  | { type: 'backoff_elapsed' }
  | { type: 'stop' };

export interface Machine {
  state: SourceState;
  /** Consecutive failed attempts since the last progress. */
  attempt: number;
  /** When backing off or waiting for the claim: the time (ms) to try again. */
  retryAt?: number;
  lastError?: Error;
  /** How `stopped` was reached. */
  outcome?: 'caught_up' | 'stopped' | 'failed';
}

export interface BackoffPolicy {
  minMs: number;
  maxMs: number;
  /** Interval between attempts to take a claim held by another reader. */
  claimRetryMs: number;
}

export const initialMachine = (): Machine => ({ state: 'claiming', attempt: 0 });

export function backoffDelay(attempt: number, p: Pick<BackoffPolicy, 'minMs' | 'maxMs'>): number {
  return Math.min(p.maxMs, p.minMs * 2 ** Math.max(0, attempt - 1));
}

export function transition(m: Machine, e: SourceEvent, now: number, policy: BackoffPolicy): Machine {
  if (m.state === 'stopped') return m;
  if (e.type === 'stop') return { ...m, state: 'stopped', retryAt: undefined, outcome: 'stopped' };
  if (e.type === 'terminal_error')
    return { ...m, state: 'stopped', retryAt: undefined, lastError: e.error, outcome: 'failed' };
  if (e.type === 'transient_error' && m.state !== 'backing-off') {
    const attempt = m.attempt + 1;
    return {
      state: 'backing-off',
      attempt,
      retryAt: now + backoffDelay(attempt, policy),
      lastError: e.error,
    };
  }
  switch (m.state) {
    case 'claiming':
      if (e.type === 'claimed') return { ...m, state: 'connecting', retryAt: undefined };
      if (e.type === 'claim_busy') return { ...m, state: 'waiting', retryAt: now + policy.claimRetryMs };
      break;
    case 'waiting':
      if (e.type === 'wait_elapsed') return { ...m, state: 'claiming', retryAt: undefined };
      break;
    case 'connecting':
      if (e.type === 'connected') return { ...m, state: e.needsSnapshot ? 'snapshotting' : 'streaming' };
      break;
    case 'snapshotting':
      if (e.type === 'snapshot_done') return { state: 'streaming', attempt: 0 };
      break;
    case 'streaming':
      if (e.type === 'progress') return m.attempt === 0 ? m : { ...m, attempt: 0 };
      if (e.type === 'caught_up') return { ...m, state: 'stopped', outcome: 'caught_up' };
      break;
    case 'backing-off':
      if (e.type === 'backoff_elapsed') return { ...m, state: 'claiming', retryAt: undefined };
      break;
  }
  throw new Error(`source state machine: event ${e.type} is not allowed in state ${m.state}`);
}

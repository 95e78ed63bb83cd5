// The life of one CDC source as an explicit state machine. Pure: the driver (sync-source.ts)
// performs the effects and feeds the outcomes back as events; time comes in as arguments.
//
//                 ┌────────────── backoff_elapsed ──────────────┐
//                 v                                              │
//   start ──> connecting ──connected(snapshot)──> snapshotting ──┼─ transient_error ─> backing-off
//                 │   └────connected(stream)──┐        │         │                       ^
//                 │                           v        v         │                       │
//                 │                        streaming <─snapshot_done                     │
//                 │                           │  └──────────── transient_error ──────────┘
//                 │                           └── caught_up (--once) / stop ──> stopped
//                 └── terminal_error (any state) ─────────────────────────────> stopped
//
// Invariants (see SPEC in docs/readme/postgres-cdc.md and the stream reader):
//  I1 A slot position is acknowledged only after the staging transaction holding every change
//     up to it has committed, and never beyond the stored checkpoint.
//  I2 Staging versions of one row only grow: snapshot rows carry the consistent point, streamed
//     rows their commit LSN, and the staging write path ignores older versions.
//  I3 A missing or invalidated slot with a stored checkpoint is terminal: trueup never silently
//     restarts from "now" (that would lose the changes in between).
//  I4 Backoff grows geometrically from backoffMinMs, is capped at backoffMaxMs, and resets after
//     the source made progress (snapshot done or changes committed).
//  I5 `stopped` is final; every state can reach it through stop or a terminal error.

export type SourceState = 'connecting' | 'snapshotting' | 'streaming' | 'backing-off' | 'stopped';

export type SourceEvent =
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
  /** When backing off: the time (ms) to try again. */
  retryAt?: number;
  lastError?: Error;
  /** How `stopped` was reached. */
  outcome?: 'caught_up' | 'stopped' | 'failed';
}

export interface BackoffPolicy {
  minMs: number;
  maxMs: number;
}

export const initialMachine = (): Machine => ({ state: 'connecting', attempt: 0 });

export function backoffDelay(attempt: number, p: BackoffPolicy): number {
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
      if (e.type === 'backoff_elapsed') return { ...m, state: 'connecting', retryAt: undefined };
      break;
  }
  throw new Error(`source state machine: event ${e.type} is not allowed in state ${m.state}`);
}

// The life of one CDC source as an explicit state machine: claiming → connecting → snapshotting →
// streaming → stopped, with waiting (another reader holds the claim) and backing-off (a transient
// failure). Pure: the driver (sync-source.ts) performs the effects and feeds the outcomes back as
// events; time comes in as arguments. The diagram and the invariants I1–I6 (acknowledge only what
// is committed, versions only grow, a lost slot is terminal, backoff, stopped is final, only the
// claim holder reads): docs/capture.md, "Postgres CDC".
import { type BackoffBounds, backoffDelay } from '../../../staging/model/backoff.js';

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

export interface BackoffPolicy extends BackoffBounds {
  /** Interval between attempts to take a claim held by another reader. */
  claimRetryMs: number;
}

export const initialMachine = (): Machine => ({ state: 'claiming', attempt: 0 });

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

// The lifecycles of the control tables as transition tables: every allowed transition, every
// refused one, and the properties the queries rely on (every status reachable, final statuses
// final, the derived status lists).
import { describe, expect, it } from 'vitest';
import {
  ACTION_STATUSES,
  ACTION_TRANSITIONS,
  actionStatusesAllowing,
  actionTransition,
  UNDECIDED_ACTION_STATUSES,
} from '../../staging/control/action-states.js';
import { DECIDABLE } from '../../staging/control/actions.js';
import {
  DEAD_LETTER_STATUSES,
  DEAD_LETTER_TRANSITIONS,
  deadLetterTransition,
} from '../../staging/control/dead-letter-states.js';
import {
  DISCREPANCY_STATUSES,
  DISCREPANCY_TRANSITIONS,
  discrepancyStatusesAllowing,
  discrepancyTransition,
  LIVE_DISCREPANCY_STATUSES,
} from '../../staging/control/discrepancy-states.js';
import {
  RUN_STATUSES,
  RUN_TRANSITIONS,
  runTransition,
  UNFINISHED_RUN_STATUSES,
} from '../../staging/control/run-states.js';
import { NEW, TransitionError, type TransitionTable } from '../../staging/control/transition-table.js';
import {
  TAKEN_OVER_BY_LINK,
  XREF_ORIGINS,
  XREF_TRANSITIONS,
  xrefTransition,
} from '../../staging/control/xref-states.js';
import { TrueupError } from '../../staging/model/errors.js';

type Row = [from: string, event: string, to: string];

/** Checks `transition` against the allowed rows, and that every other (status, event) is refused. */
function checkTable(
  statuses: readonly string[],
  events: readonly string[],
  transition: (from: never, event: never) => string,
  allowed: Row[],
): void {
  const key = (from: string, event: string) => `${from} ${event}`;
  const table = new Map(allowed.map(([from, event, to]) => [key(from, event), to]));
  for (const from of [NEW, ...statuses])
    for (const event of events) {
      const to = table.get(key(from, event));
      const step = () => transition(from as never, event as never);
      if (to === undefined) expect(step, key(from, event)).toThrow(TransitionError);
      else expect(step(), key(from, event)).toBe(to);
    }
}

/** Every status is reachable from `new`, and only the listed ones are final. */
function checkShape(
  statuses: readonly string[],
  table: TransitionTable<string, string>,
  final: string[],
): void {
  const seen = new Set<string>();
  const todo: string[] = [NEW];
  while (todo.length) {
    const from = todo.pop()!;
    for (const to of Object.values(table[from] ?? {}) as string[])
      if (!seen.has(to)) {
        seen.add(to);
        todo.push(to);
      }
  }
  expect([...seen].sort()).toEqual([...statuses].sort());
  expect(statuses.filter((s) => Object.keys(table[s] ?? {}).length === 0).sort()).toEqual(final.sort());
}

describe('control.discrepancies lifecycle', () => {
  const allowed: Row[] = [
    [NEW, 'seen', 'open'],
    [NEW, 'gone_in_flight', 'resolved'],
    ['open', 'seen', 'open'],
    ['open', 'gone', 'resolved'],
    ['open', 'gone_in_flight', 'resolved'],
    ['open', 'accept', 'accepted'],
    ['accepted', 'seen', 'accepted'],
    ['accepted', 'gone', 'resolved'],
    ['accepted', 'gone_in_flight', 'resolved'],
    ['accepted', 'accept', 'accepted'],
    ['resolved', 'seen', 'open'],
    ['resolved', 'gone_in_flight', 'resolved'],
  ];
  it.each(allowed)('%s --%s--> %s', (from, event, to) => {
    expect(discrepancyTransition(from as never, event as never)).toBe(to);
  });
  it('refuses everything else, naming the table, status and event', () => {
    checkTable(
      DISCREPANCY_STATUSES,
      ['seen', 'gone', 'gone_in_flight', 'accept'],
      discrepancyTransition,
      allowed,
    );
    expect(() => discrepancyTransition('resolved', 'accept')).toThrow(
      'control.discrepancies: event accept is not allowed in status resolved',
    );
  });
  it('every status is reachable and none is final (a resolved discrepancy can come back)', () => {
    checkShape(DISCREPANCY_STATUSES, DISCREPANCY_TRANSITIONS, []);
  });
  it('the live statuses are those a run can find gone; a reviewer accepts only live ones', () => {
    expect(LIVE_DISCREPANCY_STATUSES).toEqual(['open', 'accepted']);
    expect(discrepancyStatusesAllowing('accept')).toEqual(LIVE_DISCREPANCY_STATUSES);
  });
});

describe('control.actions lifecycle', () => {
  const allowed: Row[] = [
    [NEW, 'propose', 'proposed'],
    [NEW, 'auto_approve', 'approved'],
    ['proposed', 'approve', 'approved'],
    ['proposed', 'reject', 'rejected'],
    ['proposed', 'supersede', 'skipped_stale'],
    ['proposed', 'withdraw', 'skipped_stale'],
    ['approved', 'reject', 'rejected'],
    ['approved', 'supersede', 'skipped_stale'],
    ['approved', 'withdraw', 'skipped_stale'],
    ['approved', 'apply', 'applied'],
    ['approved', 'fail', 'failed'],
    ['skipped_stale', 'propose', 'proposed'],
    ['skipped_stale', 'auto_approve', 'approved'],
  ];
  const events = ['propose', 'auto_approve', 'approve', 'reject', 'supersede', 'withdraw', 'apply', 'fail'];
  it.each(allowed)('%s --%s--> %s', (from, event, to) => {
    expect(actionTransition(from as never, event as never)).toBe(to);
  });
  it('refuses everything else', () => {
    checkTable(ACTION_STATUSES, events, actionTransition, allowed);
  });
  it('every status is reachable; rejected, applied and failed are final', () => {
    checkShape(ACTION_STATUSES, ACTION_TRANSITIONS, ['rejected', 'applied', 'failed']);
  });
  it('derives the undecided statuses, what a decision may start from, and what a run brings back', () => {
    expect(UNDECIDED_ACTION_STATUSES).toEqual(['proposed', 'approved']);
    expect(DECIDABLE).toEqual({ approve: ['proposed'], reject: ['proposed', 'approved'] });
    expect(actionStatusesAllowing('propose')).toEqual(['skipped_stale']);
    expect(actionStatusesAllowing('withdraw')).toEqual(UNDECIDED_ACTION_STATUSES);
  });
});

describe('control.runs lifecycle', () => {
  const allowed: Row[] = [
    [NEW, 'start', 'running'],
    ['running', 'succeed', 'succeeded'],
    ['running', 'fail', 'failed'],
  ];
  it.each(allowed)('%s --%s--> %s', (from, event, to) => {
    expect(runTransition(from as never, event as never)).toBe(to);
  });
  it('refuses everything else; a run leaves running once', () => {
    checkTable(RUN_STATUSES, ['start', 'succeed', 'fail'], runTransition, allowed);
    checkShape(RUN_STATUSES, RUN_TRANSITIONS, ['succeeded', 'failed']);
    expect(UNFINISHED_RUN_STATUSES).toEqual(['running']);
  });
});

describe('control.dead_letters lifecycle', () => {
  const allowed: Row[] = [
    [NEW, 'fail', 'open'],
    ['open', 'fail', 'open'],
    ['open', 'replay', 'replayed'],
    ['open', 'replay_failed', 'open'],
    ['open', 'discard', 'discarded'],
  ];
  it.each(allowed)('%s --%s--> %s', (from, event, to) => {
    expect(deadLetterTransition(from as never, event as never)).toBe(to);
  });
  it('refuses everything else; replayed and discarded are final', () => {
    checkTable(
      DEAD_LETTER_STATUSES,
      ['fail', 'replay', 'replay_failed', 'discard'],
      deadLetterTransition,
      allowed,
    );
    checkShape(DEAD_LETTER_STATUSES, DEAD_LETTER_TRANSITIONS, ['replayed', 'discarded']);
  });
});

describe('control.xref origins', () => {
  const allowed: Row[] = [
    [NEW, 'key_match', 'key_match'],
    [NEW, 'link', 'manual'],
    ['key_match', 'key_match', 'key_match'],
    ['key_match', 'link', 'manual'],
    ['manual', 'key_match', 'manual'],
    ['manual', 'link', 'manual'],
  ];
  it.each(allowed)('%s --%s--> %s', (from, event, to) => {
    expect(xrefTransition(from as never, event as never)).toBe(to);
  });
  it('a key match never demotes a manual link; a manual link takes over a key match', () => {
    checkTable(XREF_ORIGINS, ['key_match', 'link'], xrefTransition, allowed);
    checkShape(XREF_ORIGINS, XREF_TRANSITIONS, []);
    expect(TAKEN_OVER_BY_LINK).toEqual(['key_match']);
  });
});

it('a refused transition is a terminal TrueupError', () => {
  const err = (() => {
    try {
      runTransition('failed', 'succeed');
    } catch (e) {
      return e;
    }
  })();
  expect(err).toBeInstanceOf(TrueupError);
  expect(err).toMatchObject({ name: 'TransitionError', kind: 'terminal', from: 'failed', event: 'succeed' });
});

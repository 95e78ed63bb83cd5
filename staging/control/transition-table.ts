// A control table's status lifecycle as data: from a status (or `new`, no row yet) and an event
// to the next status. Each *-states.ts module declares its statuses once and its table here; the
// queries read the allowed source statuses from the table, so SQL and table cannot drift apart.

import { quoteLiteral } from '../identifiers.js';
import { TrueupError } from '../model/errors.js';

/** No row yet: the start of every lifecycle. */
export const NEW = 'new';

export type TransitionTable<S extends string, E extends string> = Readonly<
  Record<S | typeof NEW, Readonly<Partial<Record<E, S>>>>
>;

/** An event a status does not allow (a bug, or a row that changed under the caller). */
export class TransitionError extends TrueupError {
  override name = 'TransitionError';
  constructor(
    readonly table: string,
    readonly from: string,
    readonly event: string,
  ) {
    super(`${table}: event ${event} is not allowed in status ${from}`);
  }
}

/** The pure transition function of `table`: the next status, or a TransitionError. */
export function transitionOf<S extends string, E extends string>(
  name: string,
  table: TransitionTable<S, E>,
): (from: S | typeof NEW, event: E) => S {
  return (from, event) => {
    const to = table[from][event];
    if (to === undefined) throw new TransitionError(name, from, event);
    return to;
  };
}

/** The existing statuses (not `new`) in which `event` is allowed, in declaration order. */
export function statusesAllowing<S extends string, E extends string>(
  statuses: readonly S[],
  table: TransitionTable<S, E>,
  event: E,
): S[] {
  return statuses.filter((s) => table[s][event] !== undefined);
}

/**
 * A SQL list of trueup's own status constants, `('open', 'accepted')`: written into the query text
 * (not bound as a parameter) so the planner can match the partial indexes declared over them.
 */
export function sqlList(values: readonly string[]): string {
  return `(${values.map(quoteLiteral).join(', ')})`;
}

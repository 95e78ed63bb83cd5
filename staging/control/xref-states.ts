// The origins of control.xref links, declared once and tested against the migrations' CHECK
// constraint, and how a link's origin changes, as a transition table (xref.ts applies it).
import { NEW, statusesAllowing, type TransitionTable, transitionOf } from './transition-table.js';

export const XREF_ORIGINS = ['key_match', 'manual'] as const;
export type XrefOrigin = (typeof XREF_ORIGINS)[number];

/** `key_match`: a run matched the pair by a business key. `link`: `xref link` by a person. */
export type XrefEvent = 'key_match' | 'link';

/**
 * ```
 *   (new) ──key_match──> key_match ──link──> manual
 *     └──────────link───────────────────────^  │ ^
 *                                              └─┘ key_match, link (nothing changes)
 * ```
 * `xref unlink` deletes the row, whatever its origin.
 * Invariants:
 *  X1 A key match never demotes a manual link, and linking a manual link again keeps who made it
 *     first; a manual link over a key match records who and when.
 *  X2 Every write of a tenant × entity's links gives it a new version (control.xref_versions,
 *     by trigger), so the reconcilers' local copies notice every change.
 */
export const XREF_TRANSITIONS: TransitionTable<XrefOrigin, XrefEvent> = {
  [NEW]: { key_match: 'key_match', link: 'manual' },
  key_match: { key_match: 'key_match', link: 'manual' },
  manual: { key_match: 'manual', link: 'manual' },
};

export const xrefTransition = transitionOf('control.xref', XREF_TRANSITIONS);

/** The origins a manual link takes over (X1). */
export const TAKEN_OVER_BY_LINK = statusesAllowing(XREF_ORIGINS, XREF_TRANSITIONS, 'link').filter(
  (o) => XREF_TRANSITIONS[o].link !== o,
);

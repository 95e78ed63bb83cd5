// Errors of the postgres CDC connector. Each says which tenant, system and slot it is about and
// whether a retry can cure it (transient: reconnect with backoff) or not (terminal: stop, tell
// the user what to run).
import { classifyPgError, type ErrorKind } from '../../../staging/errors.js';
import { TrueupError } from '../../../staging/model/errors.js';

export interface CdcErrorDetail {
  tenant: string;
  system: string;
  slot?: string;
  table?: string;
  lsn?: string;
}

export class CdcError extends TrueupError {
  override name = 'CdcError';
  constructor(
    message: string,
    kind: ErrorKind,
    readonly detail: CdcErrorDetail,
    options?: { cause?: unknown },
  ) {
    super(message, {
      kind,
      subject: { tenant: detail.tenant, system: detail.system },
      cause: options?.cause,
    });
  }
}

/** The command that rebuilds a tenant's staged rows of one source from a fresh snapshot. */
export function resnapshotCommand(tenant: string, system: string): string {
  return `trueup sync --tenant ${tenant} --system ${system} --resnapshot`;
}

/** The slot is gone or invalidated: the changes since the checkpoint cannot be streamed any more. */
export class SlotLostError extends CdcError {
  override name = 'SlotLostError';
  constructor(reason: string, detail: CdcErrorDetail & { slot: string }) {
    super(
      `tenant ${detail.tenant}, system ${detail.system}: replication slot "${detail.slot}" ${reason}; ` +
        `changes since the last checkpoint${detail.lsn ? ` (${detail.lsn})` : ''} cannot be streamed. ` +
        `Recover with a re-snapshot of this source: \`${resnapshotCommand(detail.tenant, detail.system)}\``,
      'terminal',
      detail,
    );
  }
}

/** Another reader holds the slot's claim (`--once` does not wait for it). */
export class SlotClaimedError extends CdcError {
  override name = 'SlotClaimedError';
  constructor(holder: string, detail: CdcErrorDetail & { slot: string }) {
    super(
      `tenant ${detail.tenant}, system ${detail.system}: slot "${detail.slot}" is being read by another trueup sync: ${holder}. ` +
        'Stop that process, or run `trueup sync` without --once to wait and take over when it ends',
      'terminal',
      detail,
    );
  }
}

/**
 * True for a source error that a retry can cure: what staging's classifyPgError rates transient
 * (connection loss, contention, shutdown, lock not available) plus a statement timeout (57014,
 * which a busy source gives and a later attempt need not). Data errors (22xxx, 23xxx, P0001 …)
 * are not: retrying the same row fails the same way.
 */
export function isTransientSourceError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === '57014' || code === '55P03' || classifyPgError(err) === 'transient';
}

/**
 * START_REPLICATION refused with 55006 "replication slot … is active for PID …": this reader
 * holds the slot's claim, so the PID is a walsender still ending after the previous reader left
 * (a restart or a takeover right after it): a retry cures it. (Under --once the retry is bounded
 * by stream.onceRetryMs; a foreign consumer holding the slot shows in the retried error.)
 */
export function slotStillActive(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e?.code === '55006' && typeof e.message === 'string' && /replication slot/i.test(e.message);
}

/** Wraps a source error as transient, so the source reconnects with backoff and nothing is acknowledged. */
export function transientSourceError(what: string, err: unknown, detail: CdcErrorDetail): CdcError {
  const e = err as { message?: string; code?: string };
  return new CdcError(
    `tenant ${detail.tenant}, system ${detail.system}${detail.table ? `, table ${detail.table}` : ''}: ${what} failed` +
      `${e.code ? ` (SQLSTATE ${e.code})` : ''}: ${e.message ?? String(err)}; retrying`,
    'transient',
    detail,
    { cause: err },
  );
}

/**
 * True for an error that is the row's own: a data exception (SQLSTATE class 22), an integrity
 * constraint (class 23) or the author's RAISE EXCEPTION (P0001) while evaluating a mapping
 * expression. Only these dead-letter a streamed row; anything else (a column an expression reads
 * renamed, 42703; a permission revoked, 42501; a function dropped) is the source's or the
 * mapping's, and would fail every row the same way.
 */
export function isRowDataError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23') || code === 'P0001');
}

/**
 * A SQL error that is not a data error while mapping streamed rows of one table: terminal, and
 * raised before anything of the chunk is staged or acknowledged, so once the source (or the
 * mapping) is fixed the next run reads the same changes again from the slot.
 */
export function mappingStoppedError(
  err: unknown,
  detail: CdcErrorDetail & { table: string; entity: string },
) {
  const e = err as { message?: string; code?: string };
  return new CdcError(
    `tenant ${detail.tenant}, system ${detail.system}, table ${detail.table} (${detail.entity}): evaluating its mapping ` +
      `expressions failed (SQLSTATE ${e.code ?? 'unknown'}): ${e.message ?? String(err)}. This is not a data error of one row, ` +
      'so nothing was dead-lettered and the change was not acknowledged: fix the source table, grant or mapping, then run ' +
      'sync again; the change is read again',
    'terminal',
    detail,
    { cause: err },
  );
}

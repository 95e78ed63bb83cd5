// The one error base of trueup. Every error class extends TrueupError, says whether a retry can
// cure it (`transient`), whether the tenant's source is paused until a known time (`paused`, e.g. a
// vendor's daily quota), or neither (`terminal`: dead-letter the record or stop that one source),
// and names what it concerns. Callers test errors with `instanceof` and `kind`, never by shape.

export type ErrorKind = 'terminal' | 'transient' | 'paused';

/** What an error concerns; every field optional, all of them printed by `describe()`. */
export interface ErrorSubject {
  tenant?: string;
  system?: string;
  entity?: string;
  sourceId?: string;
  file?: string;
  line?: number;
  field?: string;
}

export class TrueupError extends Error {
  override name = 'TrueupError';
  readonly kind: ErrorKind;
  readonly subject: ErrorSubject;

  constructor(message: string, opts: { kind?: ErrorKind; subject?: ErrorSubject; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.kind = opts.kind ?? 'terminal';
    this.subject = opts.subject ?? {};
  }

  isTransient(): boolean {
    return this.kind === 'transient';
  }
}

/** The kind of any thrown value: a TrueupError's own, `otherwise` for anything else. */
export function errorKind(err: unknown, otherwise: ErrorKind = 'terminal'): ErrorKind {
  return err instanceof TrueupError ? err.kind : otherwise;
}

export function isTransient(err: unknown): boolean {
  return err instanceof TrueupError && err.isTransient();
}

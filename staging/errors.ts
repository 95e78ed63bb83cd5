// The staging layer's error class and the one table that classifies Postgres errors by SQLSTATE:
// transient when a retry can cure them (with backoff and a cap), terminal otherwise. The kinds
// and the error base come from layer 0 (staging/model/errors.ts).
import { type ErrorKind, type ErrorSubject, TrueupError } from './model/errors.js';

export type { ErrorKind } from './model/errors.js';

/** What a Postgres error can be: a retry cures it or it does not (never `paused`). */
export type PgErrorKind = Extract<ErrorKind, 'terminal' | 'transient'>;

export class StagingError extends TrueupError {
  override name = 'StagingError';
  constructor(
    message: string,
    kind: PgErrorKind,
    subject: Pick<ErrorSubject, 'tenant' | 'system' | 'entity' | 'sourceId'> = {},
    options?: { cause?: unknown },
  ) {
    super(message, { kind, subject, cause: options?.cause });
  }
}

/** SQLSTATE classes and codes that a retry can cure (connection trouble, contention, shutdown). */
const TRANSIENT_SQLSTATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  '53300', // too_many_connections
  '53400', // configuration_limit_exceeded
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '58000', // system_error
  '58030', // io_error
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '08007',
  '08P01', // connection_exception family
]);

const TRANSIENT_NODE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);

/** Classifies any error thrown by pg: transient when retrying may succeed, terminal otherwise. */
export function classifyPgError(err: unknown): PgErrorKind {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string') {
    if (TRANSIENT_SQLSTATES.has(code) || TRANSIENT_NODE_CODES.has(code)) return 'transient';
    if (code.startsWith('08')) return 'transient';
  }
  const message = err instanceof Error ? err.message : '';
  if (/Connection terminated|connection timeout|Client has encountered a connection error/i.test(message))
    return 'transient';
  return 'terminal';
}

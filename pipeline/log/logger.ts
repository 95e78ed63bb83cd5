// One root pino logger for the process; modules and jobs take children carrying tenant, run and
// correlation ids. Lines go to stderr (stdout belongs to command output): pretty on a TTY, JSON
// otherwise. Every line passes through `redact`, so a resolved secret or a connection password
// never reaches a log, whatever field it hides in. `redact` sees the JSON text, where a secret
// holding a quote or backslash is escaped: it matches that escaped form too.
import pino, { type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { redact } from './redact.js';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Force pretty (true) or JSON (false); default: pretty when stderr is a TTY. */
  pretty?: boolean;
  /** Where lines go; default stderr. Tests pass a sink stream and read the JSON back. */
  destination?: DestinationStream;
}

const REDACT_PATHS = [
  '*.password',
  '*.accessToken',
  '*.token',
  '*.secret',
  '*.authorization',
  '*.headers.authorization',
  'password',
];

export function createLogger(opts: LoggerOptions = {}): Logger {
  const usePretty = opts.pretty ?? (opts.destination === undefined && process.stderr.isTTY === true);
  const base =
    opts.destination ??
    (usePretty
      ? pretty({ destination: 2, colorize: true, sync: true })
      : pino.destination({ dest: 2, sync: true }));
  return pino(
    {
      level: opts.level ?? 'info',
      base: undefined,
      redact: { paths: REDACT_PATHS, censor: '***' },
      serializers: { err: pino.stdSerializers.err },
      hooks: { streamWrite: (line) => redact(line) },
    },
    base,
  );
}

let root: Logger | undefined;

/** The process's root logger (created by the CLI with --log-level; a quiet default otherwise). */
export function rootLogger(): Logger {
  root ??= createLogger({ level: 'warn' });
  return root;
}

export function setRootLogger(logger: Logger): void {
  root = logger;
}

/** A child carrying `fields`, but those the parent already carries with the same value (no key twice in a line). */
export function childWith(parent: Logger, fields: Record<string, unknown>): Logger {
  const bound = parent.bindings();
  return parent.child(Object.fromEntries(Object.entries(fields).filter(([k, v]) => bound[k] !== v)));
}

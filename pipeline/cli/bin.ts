#!/usr/bin/env node
// Entry point of the installed `trueup` binary. It owns the process: SIGINT/SIGTERM become a
// shutdown request the running command observes (then exit 0 once it has stopped cleanly), a
// second signal or an overdue stop ends the process at once, and an error nothing caught is one
// redacted line (its stack only at --log-level debug/trace) and exit 1, never a crash dump.
// The handlers are in place before the commands (and their dependencies) load: main.js is
// imported below them, so a signal or an error while loading is handled like any other.
import { redact } from '../log/redact.js';
import { shutdown } from '../runtime.js';

const argv = process.argv.slice(2);
process.umask(0o077); // run folders, mirrors, reports hold tenant data: 0700/0600 (docs/security.md)
/** How long a command may take to stop after a signal before the process ends anyway. */
const STOP_GRACE_MS = 30_000;

function debugLogging(args: readonly string[]): boolean {
  const i = args.indexOf('--log-level');
  const level = i >= 0 ? args[i + 1] : args.find((a) => a.startsWith('--log-level='))?.split('=')[1];
  return level === 'debug' || level === 'trace';
}

function oneLine(err: unknown): string {
  const e = err as Error | undefined;
  const text = e instanceof Error ? `${e.message || e.name}` : String(err);
  return redact(text.replace(/\s*\n\s*/g, ' ').trim());
}

let ending = false;
/** Ends the process now: closes what is open (bounded), then exits with `code`. */
async function endNow(code: number, message?: string): Promise<never> {
  if (!ending) {
    ending = true;
    if (message) process.stderr.write(`trueup: ${message}\n`);
    await shutdown.cleanup(10_000);
  }
  process.exit(code);
}

function fatal(kind: string, err: unknown): void {
  const stack = debugLogging(argv) && err instanceof Error && err.stack ? `\n${redact(err.stack)}` : '';
  void endNow(1, `${kind}: ${oneLine(err)}${stack}`);
}
process.on('uncaughtException', (err) => fatal('unexpected error', err));
process.on('unhandledRejection', (err) => fatal('unexpected error', err));

let signals = 0;
function onSignal(sig: NodeJS.Signals): void {
  signals++;
  const code = 128 + (sig === 'SIGINT' ? 2 : 15);
  // A command stops on its own when it observes the runtime's stop signal, or listens to the
  // signal itself (e.g. `sandbox`); any other ends at once.
  const observed = shutdown.request(sig) || process.listenerCount(sig) > 1;
  if (signals === 1 && observed) {
    process.stderr.write(
      `trueup: ${sig} received: stopping after what is in flight (send it again to stop at once)\n`,
    );
    setTimeout(
      () => void endNow(1, `did not stop within ${STOP_GRACE_MS / 1000} s of ${sig}; stopped at once`),
      STOP_GRACE_MS,
    ).unref();
    return;
  }
  void endNow(code);
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const { runCli } = await import('./main.js');
process.exit(await runCli(argv));

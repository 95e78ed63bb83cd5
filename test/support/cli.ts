// Runs the trueup CLI in-process against a test database, as a user would from a shell: its
// stdout and stderr captured (errors reported outside the context's writers go to the process's
// stderr, which is captured too), the exit code returned and process.exitCode left clean.
import { vi } from 'vitest';
import { createCliContext } from '../../pipeline/cli/cli-context.js';
import { runCli } from '../../pipeline/cli/main.js';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

export async function runCliCaptured(
  args: readonly string[],
  opts: { databaseUrl: string; config?: string },
): Promise<CliRun> {
  let out = '';
  let err = '';
  const ctx = createCliContext(
    { TRUEUP_DATABASE_URL: opts.databaseUrl },
    (t) => {
      out += t;
    },
    (t) => {
      err += t;
    },
  );
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
  process.exitCode = undefined;
  try {
    const config = opts.config ? ['-c', opts.config] : [];
    const code = await runCli([...config, '--log-level', 'error', ...args], ctx);
    return { code, out, err };
  } finally {
    process.exitCode = undefined;
    spy.mockRestore();
  }
}

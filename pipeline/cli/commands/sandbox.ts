// `trueup sandbox <kind>`: starts a vendor sandbox (a local server speaking the vendor's API over
// seeded data) and keeps it running until Ctrl-C. Needs no database and no config.
import type { Command } from 'commander';
import { findConnector, sandboxKinds } from '../../connectors/registry.js';
import { type CliContext, UsageError } from '../cli-context.js';

interface SandboxCliOptions {
  port: string;
  host: string;
  seed: string;
  records?: string;
  token: string;
  faultRate?: string;
  dailyLimit?: string;
  groundTruth?: boolean;
}

function int(value: string, name: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${value}"`);
  return n;
}

export function registerSandboxCommand(program: Command, ctx: CliContext): void {
  program
    .command('sandbox')
    .description(
      'start a local vendor sandbox (seeded data, the vendor API, fault injection) until interrupted',
    )
    .argument('<kind>', `which vendor: ${sandboxKinds().join(', ')}`)
    .option('--port <n>', 'port to listen on (0: any free port)', '8081')
    .option('--host <addr>', 'address to bind', '127.0.0.1')
    .option('--seed <n>', 'seed of the generated data and of the faults', '1')
    .option('--records <n>', 'size of the main object (e.g. Salesforce Accounts); others scale with it')
    .option('--token <t>', 'the bearer token the sandbox accepts', 'sandbox-token')
    .option(
      '--fault-rate <p>',
      'probability (0-1) of a fault per request, split evenly into 429, 5xx and dropped connections',
    )
    .option('--daily-limit <n>', 'answer every request after the first n with the daily-limit error')
    .option(
      '--ground-truth',
      "serve the CRM side of trueup's ground-truth generator (known discrepancies) instead of the vendor seed",
    )
    .addHelpText(
      'after',
      `
Examples:
  $ trueup sandbox salesforce --port 8081 --seed 7
  $ trueup sandbox salesforce --ground-truth --records 500          the demo tenant's CRM with known discrepancies
  $ trueup sandbox salesforce --records 100000 --fault-rate 0.3     a flaky org for resilience demos`,
    )
    .action(async (kind: string, opts: SandboxCliOptions) => {
      const start = findConnector(kind)?.sandbox;
      if (!start)
        throw new UsageError(`unknown sandbox "${kind}"; choose one of: ${sandboxKinds().join(', ')}`);
      const rate = opts.faultRate === undefined ? 0 : Number(opts.faultRate);
      if (!(rate >= 0 && rate <= 1))
        throw new UsageError(`--fault-rate must be between 0 and 1, got "${opts.faultRate}"`);
      const seed = int(opts.seed, 'seed', 0);
      const running = await start({
        port: int(opts.port, 'port', 0),
        host: opts.host,
        seed,
        token: opts.token,
        ...(opts.records ? { records: int(opts.records, 'records', 0) } : {}),
        ...(opts.groundTruth ? { groundTruth: true } : {}),
        faults: {
          seed,
          rateLimitRate: rate / 3,
          serverErrorRate: rate / 3,
          dropRate: rate / 3,
          ...(opts.dailyLimit ? { dailyLimit: int(opts.dailyLimit, 'daily-limit', 0) } : {}),
        },
      });
      ctx.out(`listening on ${running.url}\n${running.summary}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await running.close();
    });
}

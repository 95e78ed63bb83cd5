// `trueup demo --keep`: after the loop, `serve` runs over the demo's tenants (their sources keep
// streaming, the JSON API answers) beside the sandboxes and both clusters, until the stop signal
// (Ctrl-C). Prints how to point `trueup` commands and a browser at it.
import { pathToFileURL } from 'node:url';
import type { Runtime } from '../runtime.js';
import { trueupWork } from '../serve/jobs.js';
import { startServe } from '../serve/serve.js';
import { DEFAULT_SERVE_CONFIG } from '../serve/serve-config.js';
import type { TenantOutcome } from './demo-summary.js';

export async function keepRunning(o: {
  rt: Runtime;
  configFile: string;
  port: number;
  outcomes: readonly TenantOutcome[];
  say: (line: string) => void;
  signal: AbortSignal;
}): Promise<void> {
  const { rt } = o;
  const work = trueupWork({
    staging: rt.staging,
    stagingUrl: rt.server.url,
    dataDir: rt.dataDir,
    logger: rt.logger,
    workers: rt.config.workers,
  });
  const running = await startServe({
    config: rt.config,
    serve: { ...(rt.config.serve ?? DEFAULT_SERVE_CONFIG), host: '127.0.0.1', port: o.port },
    staging: rt.staging,
    stagingUrl: rt.server.url,
    logger: rt.logger,
    work,
  });
  const first = o.outcomes[0]?.tenant ?? 'acme';
  o.say(
    [
      '',
      'The demo keeps running (Ctrl-C stops everything it started). In another shell:',
      `  export TRUEUP_CONFIG=${o.configFile}`,
      '  npx trueup status',
      `  npx trueup discrepancies list --tenant ${first}`,
      `  npx trueup actions list --tenant ${first}`,
      `  npx trueup reconcile --tenant ${first}`,
      'In a browser:',
      ...o.outcomes.map((t) => `  ${pathToFileURL(t.reports[t.reports.length - 1] ?? '').href}`),
      `  ${running.url}/api/status   (trueup serve: JSON API, /metrics, /healthz)`,
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    if (o.signal.aborted) resolve();
    else o.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  o.say('stopping the demo…');
  await running.stop();
  await Promise.race([work.close(), new Promise((r) => setTimeout(r, 5_000).unref())]);
}

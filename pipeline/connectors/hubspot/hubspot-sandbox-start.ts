// `trueup sandbox hubspot`: starts a HubSpot sandbox (hubspot-sandbox.ts) over seeded records and
// prints the config that points at it.
import { HubspotSandbox, type HubspotSandboxOptions } from './hubspot-sandbox.js';

export interface RunningHubspotSandbox {
  url: string;
  token: string;
  summary: string;
  sandbox: HubspotSandbox;
  close(): Promise<void>;
}

/**
 * Starts a HubSpot sandbox; the shape `trueup sandbox hubspot` expects (SandboxStarter).
 * `records` sizes companies (products, deals and invoices scale with it).
 */
export async function startHubspotSandbox(
  opts: Omit<HubspotSandboxOptions, 'records'> & {
    port?: number;
    host?: string;
    token?: string;
    records?: number;
  } = {},
): Promise<RunningHubspotSandbox> {
  const { port, host, records, token: given, ...rest } = opts;
  const token = given ?? 'sandbox-token';
  const n = records ?? 1000;
  const sandbox = new HubspotSandbox({
    counts: { companies: n, products: Math.max(10, Math.round(n / 10)), deals: n, invoices: n },
    ...rest,
    tokens: rest.tokens ?? [token],
  });
  const url = await sandbox.listen(port ?? 0, host ?? '127.0.0.1');
  const counts = [...sandbox.store].map(([type, m]) => `${type} ${m.size}`).join(', ');
  return {
    url,
    token,
    sandbox,
    summary: [
      `HubSpot sandbox (CRM v3 objects: list, search, batch upsert) on ${url}`,
      `seed ${opts.seed ?? 42}: ${counts}`,
      'config:',
      '  kind: hubspot',
      '  role: crm',
      `  baseUrl: ${url}`,
      `  accessToken: \${env:HUBSPOT_TOKEN}   # export HUBSPOT_TOKEN=${token}`,
    ].join('\n'),
    close: () => sandbox.close(),
  };
}

// The vendor sandboxes `trueup sandbox <kind>` can start: kind → start function. Each starts a
// local HTTP server speaking that vendor's API over seeded data, for the demo, the tests and
// users trying trueup without credentials. Adding a vendor is one line in SANDBOXES.

import { generateTenant } from '../generator/ground-truth.js';
import type { FaultConfig } from './http/sandbox-server.js';
import { startHubspotSandbox } from './hubspot/hubspot-sandbox-start.js';
import { startNetsuiteSandbox } from './netsuite/netsuite-sandbox.js';
import { SalesforceSandbox } from './salesforce/sandbox.js';
import { syntheticSalesforceSeed } from './salesforce/sandbox-data.js';
import { salesforceSeedFromGroundTruth } from './salesforce/sandbox-ground-truth.js';

export interface SandboxStartOptions {
  port: number;
  host: string;
  seed: number;
  /** Size of the main object (Salesforce: Accounts); the others scale with it. Default per vendor. */
  records?: number;
  /** The bearer token the sandbox accepts. */
  token: string;
  faults?: FaultConfig;
  /** Serve the CRM side of the shared ground-truth generator instead of the vendor's own seed. */
  groundTruth?: boolean;
}

export interface RunningSandbox {
  url: string;
  token: string;
  /** One paragraph for the terminal: what is served and a config snippet that points at it. */
  summary: string;
  close(): Promise<void>;
}

export type SandboxStarter = (opts: SandboxStartOptions) => Promise<RunningSandbox>;

export async function startSalesforceSandbox(opts: SandboxStartOptions): Promise<RunningSandbox> {
  const accounts = opts.records ?? 1000;
  const sandbox = new SalesforceSandbox({
    seed: opts.groundTruth
      ? salesforceSeedFromGroundTruth(
          generateTenant({
            tenant: 'sandbox',
            seed: opts.seed,
            counts: {
              customer: accounts,
              product: Math.max(10, Math.round(accounts / 10)),
              order: accounts,
              invoice: accounts,
            },
          }),
        )
      : syntheticSalesforceSeed({
          seed: opts.seed,
          accounts,
          products: Math.max(10, Math.round(accounts / 10)),
          orders: accounts * 2,
          opportunities: accounts,
          invoices: accounts * 2,
        }),
    tokens: [opts.token],
    ...(opts.faults ? { faults: opts.faults } : {}),
  });
  const url = await sandbox.listen(opts.port, opts.host);
  const counts = [...sandbox.store.objects].map(([name, o]) => `${name} ${o.seeded.count}`).join(', ');
  return {
    url,
    token: opts.token,
    summary: [
      `Salesforce sandbox (API v60.0, Bulk API 2.0 + composite upsert) on ${url}`,
      `seed ${opts.seed}${opts.groundTruth ? ' (ground-truth generator, CRM side)' : ''}: ${counts}`,
      'config:',
      '  kind: salesforce',
      '  role: crm',
      `  baseUrl: ${url}`,
      `  accessToken: \${env:SF_TOKEN}   # export SF_TOKEN=${opts.token}`,
    ].join('\n'),
    close: () => sandbox.close(),
  };
}

export const SANDBOXES: Readonly<Record<string, SandboxStarter>> = {
  salesforce: startSalesforceSandbox,
  hubspot: startHubspotSandbox,
  netsuite: startNetsuiteSandbox,
};

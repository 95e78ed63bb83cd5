// `trueup sandbox salesforce`: starts a Salesforce sandbox (sandbox.ts) over a synthetic seed or the
// CRM side of the ground-truth generator, and prints the config that points at it.
import { generateTenant } from '../../generator/ground-truth.js';
import type { RunningSandbox, SandboxStartOptions } from '../contract.js';
import { SalesforceSandbox } from './sandbox.js';
import { syntheticSalesforceSeed } from './sandbox-data.js';
import { salesforceSeedFromGroundTruth } from './sandbox-ground-truth.js';

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

// Helpers for the Salesforce connector tests: a seeded sandbox, a system config pointing at it
// with short backoffs, and staging read back in the shape of the sandbox's ground truth.
import type { ClientLimits } from '../../../pipeline/connectors/http/api-client.js';
import type { FaultConfig } from '../../../pipeline/connectors/http/sandbox-server.js';
import {
  SalesforceSandbox,
  type SalesforceSandboxOptions,
} from '../../../pipeline/connectors/salesforce/sandbox.js';
import { syntheticSalesforceSeed } from '../../../pipeline/connectors/salesforce/sandbox-data.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import type { Staging } from '../../../staging/database.js';

export const quietLogger = createLogger({ level: 'silent' });

export const FAST_LIMITS: Partial<ClientLimits> = {
  requestsPerSecond: 1000,
  concurrency: 4,
  maxRetries: 10,
  timeoutMs: 5_000,
  minBackoffMs: 2,
  maxBackoffMs: 20,
};

export const FAST_BULK = { pollMinMs: 5, pollMaxMs: 20, lagSeconds: 0 } as const;

export async function startSandbox(
  opts: { seed?: number; accounts?: number; faults?: FaultConfig } & Omit<
    SalesforceSandboxOptions,
    'seed'
  > = {},
): Promise<SalesforceSandbox> {
  const { seed, accounts, ...rest } = opts;
  const sandbox = new SalesforceSandbox({
    seed: syntheticSalesforceSeed({
      seed: seed ?? 1,
      accounts: accounts ?? 300,
      products: 20,
      orders: 40,
      invoices: 30,
    }),
    ...rest,
  });
  await sandbox.listen();
  return sandbox;
}

export function systemConfig(sandbox: SalesforceSandbox, extra: Record<string, unknown> = {}) {
  return {
    kind: 'salesforce',
    role: 'crm',
    baseUrl: sandbox.url,
    accessToken: 'sandbox-token',
    ...extra,
  };
}

export interface StagedRow {
  id: string;
  deleted: boolean;
  version: string;
}

/** Staged rows of a tenant's system and entity, keyed by source id. */
export async function staged(
  staging: Staging,
  tenant: string,
  entity: string,
  system = 'crm',
): Promise<Map<string, StagedRow & Record<string, unknown>>> {
  const res = await staging.pool.query(
    `SELECT *, deleted_at IS NOT NULL AS deleted FROM staging."${entity}" WHERE tenant_id = $1 AND system = $2`,
    [tenant, system],
  );
  return new Map(
    res.rows.map((r) => [r.source_id as string, { ...r, id: r.source_id, version: String(r.version) }]),
  );
}

/** The sandbox's truth for an SObject: id → {deleted, version (µs)}. */
export function truth(
  sandbox: SalesforceSandbox,
  sobject: string,
): Map<string, { deleted: boolean; version: string }> {
  const out = new Map<string, { deleted: boolean; version: string }>();
  for (const r of sandbox.rows(sobject, { includeDeleted: true }))
    out.set(r.Id!, {
      deleted: r.IsDeleted === 'true',
      version: String(BigInt(Date.parse(r.SystemModstamp!)) * 1000n),
    });
  return out;
}

/** Compares staging with the sandbox: same ids, same tombstones, same versions. */
export async function expectEqual(
  staging: Staging,
  sandbox: SalesforceSandbox,
  tenant: string,
  pairs: readonly [string, string][] = [
    ['Account', 'customer'],
    ['Product2', 'product'],
    ['Order', 'order'],
    ['Invoice__c', 'invoice'],
  ],
): Promise<string[]> {
  const problems: string[] = [];
  for (const [sobject, entity] of pairs) {
    const want = truth(sandbox, sobject);
    const got = await staged(staging, tenant, entity);
    for (const [id, w] of want) {
      const g = got.get(id);
      if (!g) problems.push(`${sobject} ${id} missing`);
      else if (g.deleted !== w.deleted || g.version !== w.version)
        problems.push(
          `${sobject} ${id}: staged deleted=${g.deleted} v${g.version}, source deleted=${w.deleted} v${w.version}`,
        );
    }
    for (const id of got.keys())
      if (!want.has(id) && id.startsWith(prefixOf(sobject))) problems.push(`${sobject} ${id} extra`);
  }
  return problems;
}

function prefixOf(sobject: string): string {
  return (
    { Account: '001', Product2: '01t', Order: '801', Opportunity: '006', Invoice__c: 'a0I' }[sobject] ?? ''
  );
}

// Helpers for the Salesforce connector tests: a seeded sandbox, a system config pointing at it
// with short backoffs, and "staging equals the sandbox" down to field values.
import type { ClientLimits } from '../../pipeline/connectors/http/api-client.js';
import type { FaultConfig } from '../../pipeline/connectors/http/sandbox-server.js';
import {
  compileRowMapper,
  resolveMappings,
  selectFields,
} from '../../pipeline/connectors/salesforce/mapping.js';
import {
  SalesforceSandbox,
  type SalesforceSandboxOptions,
} from '../../pipeline/connectors/salesforce/sandbox.js';
import { syntheticSalesforceSeed } from '../../pipeline/connectors/salesforce/sandbox-data.js';
import { createLogger } from '../../pipeline/log/logger.js';
import type { Staging } from '../../staging/database.js';
import type { Entity } from '../../staging/model/entities.js';
import { liveRecord, type Snapshot, snapshotDifferences, stagingSnapshot, tombstone } from './staging.js';

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

const DEFAULT_PAIRS: readonly [string, Entity][] = [
  ['Account', 'customer'],
  ['Product2', 'product'],
  ['Order', 'order'],
  ['Invoice__c', 'invoice'],
];

/**
 * The sandbox's records as the CRM-role extraction would stage them (default mappings): every
 * record of every `pairs` SObject, a deleted one as a tombstone, keyed by entity and id.
 */
export function sandboxSnapshot(
  sandbox: SalesforceSandbox,
  pairs: readonly (readonly [string, string])[] = DEFAULT_PAIRS,
): { snapshot: Snapshot; fields: Partial<Record<Entity, string[]>> } {
  const snapshot: Snapshot = {};
  const fields: Partial<Record<Entity, string[]>> = {};
  const mappings = resolveMappings({
    role: 'crm',
    objects: Object.fromEntries(pairs.map(([sobject, entity]) => [sobject, entity as Entity])),
  });
  for (const m of mappings)
    fields[m.entity] = [...new Set([...(fields[m.entity] ?? []), ...Object.keys(m.fields)])];
  for (const m of mappings) {
    const header = selectFields(m);
    const toChange = compileRowMapper(m, header);
    snapshot[m.entity] ??= {};
    const records = snapshot[m.entity]!;
    for (const row of sandbox.rows(m.sobject, { includeDeleted: true })) {
      const change = toChange(header.map((h) => row[h] ?? ''));
      records[change.sourceId] =
        change.op === 'delete'
          ? tombstone(change.version)
          : liveRecord(m.entity, change.version, change.fields ?? {}, fields[m.entity]);
    }
  }
  return { snapshot, fields };
}

/**
 * Compares staging (system `crm`) with the sandbox: the same ids, tombstones, versions and field
 * values, and no staged record of those entities the sandbox does not hold. Empty when equal.
 */
export async function expectEqual(
  staging: Staging,
  sandbox: SalesforceSandbox,
  tenant: string,
  pairs: readonly (readonly [string, string])[] = DEFAULT_PAIRS,
): Promise<string[]> {
  const want = sandboxSnapshot(sandbox, pairs);
  const got = await stagingSnapshot(staging, {
    tenant,
    system: 'crm',
    fields: want.fields,
    tombstones: true,
  });
  return snapshotDifferences(want.snapshot, got);
}

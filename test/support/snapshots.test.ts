// The "staging equals the source" helpers of the test kit compare field values, not only ids,
// versions and tombstones: each vendor's sandbox is staged through the write path exactly as its
// snapshot says, compares equal, and then one changed value, version or extra row is reported.
import { describe, expect, it } from 'vitest';
import { HubspotSandbox } from '../../pipeline/connectors/hubspot/hubspot-sandbox.js';
import { NetsuiteSandbox } from '../../pipeline/connectors/netsuite/netsuite-sandbox.js';
import { SalesforceSandbox } from '../../pipeline/connectors/salesforce/sandbox.js';
import { syntheticSalesforceSeed } from '../../pipeline/connectors/salesforce/sandbox-data.js';
import type { Change } from '../../staging/model/change.js';
import type { Entity } from '../../staging/model/entities.js';
import { stageUnit } from '../../staging/stage.js';
import { useTestDatabase } from './database.js';
import * as hubspot from './hubspot.js';
import * as netsuite from './netsuite.js';
import * as salesforce from './salesforce.js';
import type { Snapshot } from './staging.js';

const db = useTestDatabase('kit_snapshots');

/** Stages `snapshot` as it stands (its values are valid canonical values). */
async function stageSnapshot(tenant: string, system: string, snapshot: Snapshot): Promise<void> {
  const batches = Object.entries(snapshot).map(([entity, records]) => ({
    entity: entity as Entity,
    changes: Object.entries(records).map(([sourceId, { version, deleted, ...fields }]): Change => {
      const v = BigInt(version);
      return deleted
        ? { sourceId, version: v, op: 'delete' }
        : { sourceId, version: v, op: 'upsert', fields, raw: fields };
    }),
  }));
  await stageUnit(db.staging.pool, { tenant, system, batches, checkpoints: [], location: 'kit test' });
}

const sql = (text: string, values: unknown[]) => db.staging.pool.query(text, values);

describe('staging equals the source, field by field', () => {
  it('Salesforce: values, versions, tombstones, and extra rows of any id', async () => {
    const sb = new SalesforceSandbox({
      seed: syntheticSalesforceSeed({ seed: 5, accounts: 30, products: 5, orders: 8, invoices: 6 }),
    });
    const gone = [...sb.rows('Account')][3]!.Id!;
    sb.delete('Account', gone);
    await stageSnapshot('kit_sf', 'crm', salesforce.sandboxSnapshot(sb).snapshot);
    expect(await salesforce.expectEqual(db.staging, sb, 'kit_sf')).toEqual([]);

    const account = [...sb.rows('Account')][0]!.Id!;
    await sql(`UPDATE staging.customer SET phone = 'changed' WHERE tenant_id = 'kit_sf' AND source_id = $1`, [
      account,
    ]);
    const order = [...sb.rows('Order')][0]!.Id!;
    await sql(
      `UPDATE staging."order" SET version = version - 1 WHERE tenant_id = 'kit_sf' AND source_id = $1`,
      [order],
    );
    await stageSnapshot('kit_sf', 'crm', {
      customer: { 'not-a-salesforce-id': { version: '1', name: 'stray' } },
    });
    const problems = await salesforce.expectEqual(db.staging, sb, 'kit_sf');
    expect(problems).toHaveLength(3);
    expect(problems).toContainEqual(expect.stringMatching(`^customer ${account} phone: staged "changed"`));
    expect(problems).toContainEqual(expect.stringMatching(`^order ${order} version:`));
    expect(problems).toContain('customer not-a-salesforce-id: staged but not at the source');
  });

  it('HubSpot: values and versions of live records', async () => {
    const sb = new HubspotSandbox({ seed: 7 });
    const types = ['companies', 'products', 'deals', 'invoices'] as const;
    await stageSnapshot('kit_hs', 'hubspot', hubspot.sandboxSnapshot(sb, [...types]));
    expect(await hubspot.stagingSnapshot(db, 'kit_hs', [...types])).toEqual(
      hubspot.sandboxSnapshot(sb, [...types]),
    );
    const company = sb.live('companies')[0]!;
    sb.update('companies', company.id, { city: 'Elsewhere' });
    const want = hubspot.sandboxSnapshot(sb, [...types]);
    const got = await hubspot.stagingSnapshot(db, 'kit_hs', [...types]);
    expect(got).not.toEqual(want);
    expect(got.customer![company.id]!.billing_city).not.toBe('Elsewhere');
    expect(want.customer![company.id]!.billing_city).toBe('Elsewhere');
  });

  it('NetSuite: values read through SuiteQL, versions of live records', async () => {
    const sb = new NetsuiteSandbox({ seed: 9 });
    await stageSnapshot('kit_ns', 'netsuite', netsuite.sandboxSnapshot(sb));
    expect(await netsuite.stagingSnapshot(db, 'kit_ns')).toEqual(netsuite.sandboxSnapshot(sb));
    const invoice = [...sb.table('transaction').values()].find((r) => r.type === 'CustInvc')!;
    await sql(
      `UPDATE staging.invoice SET balance = balance + 1 WHERE tenant_id = 'kit_ns' AND source_id = $1`,
      [String(invoice.id)],
    );
    const got = await netsuite.stagingSnapshot(db, 'kit_ns');
    const want = netsuite.sandboxSnapshot(sb);
    expect(got.invoice![String(invoice.id)]!.balance).not.toEqual(want.invoice![String(invoice.id)]!.balance);
    expect({ ...got.invoice, [String(invoice.id)]: null }).toEqual({
      ...want.invoice,
      [String(invoice.id)]: null,
    });
  });
});

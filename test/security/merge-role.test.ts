// The write path's merge statements run as the connection's own role (write-changes.ts
// asMergeOwner: the tenant role's row security costs them half their speed and protects nothing
// there, since the write path binds tenant_id itself). After them the unit is back in its tenant
// scope: what the unit reads or writes next is still confined to its tenant.
import { expect, it } from 'vitest';
import { stageUnitIn } from '../../staging/stage.js';
import { withTenantScope } from '../../staging/tenant-scope.js';
import { useTestDatabase } from '../support/database.js';

const t = useTestDatabase('mergerole');

const unit = (tenant: string, sourceId: string, version: bigint) => ({
  tenant,
  system: 'crm',
  batches: [
    {
      entity: 'customer' as const,
      changes: [{ sourceId, version, op: 'upsert' as const, fields: { name: `n-${sourceId}-${version}` } }],
    },
  ],
});

it('merges as the owner, then returns to the tenant scope, and touches only its own tenant', async () => {
  const pool = t.staging.pool;
  await withTenantScope(pool, 'other', (c) => stageUnitIn(c, unit('other', 'A', 1n)));
  const seen = await withTenantScope(pool, 'acme', async (c) => {
    await stageUnitIn(c, unit('acme', 'A', 1n)); // the fast path (nothing staged yet)
    await stageUnitIn(c, unit('acme', 'A', 2n)); // the guarded merge (an update)
    const who = await c.query<{ role: string; tenant: string }>(
      `SELECT current_user AS role, current_setting('trueup.tenant') AS tenant`,
    );
    const rows = await c.query<{ tenant_id: string }>('SELECT tenant_id FROM staging.customer');
    return { ...who.rows[0]!, tenants: rows.rows.map((r) => r.tenant_id) };
  });
  expect(seen).toEqual({ role: 'trueup_tenant', tenant: 'acme', tenants: ['acme'] });
  const { rows } = await pool.query(
    `SELECT tenant_id, source_id, version::int AS version, name FROM staging.customer ORDER BY tenant_id`,
  );
  expect(rows).toEqual([
    { tenant_id: 'acme', source_id: 'A', version: 2, name: 'n-A-2' },
    { tenant_id: 'other', source_id: 'A', version: 1, name: 'n-A-1' },
  ]);
});

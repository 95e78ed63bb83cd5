// `trueup actions list` promises oldest first: ids in numeric order (1, 2, …, 10, 11), not as text.
import { expect, it } from 'vitest';
import { listActions } from '../../staging/control/actions.js';
import { useTestDatabase } from '../support/database.js';

const t = useTestDatabase('actorder');

it('lists actions by id as numbers', async () => {
  const db = t;
  for (let i = 0; i < 12; i++)
    await db.staging.pool.query(
      `INSERT INTO control.actions (tenant_id, run_id, entity, target_system, kind, fields, explanation, idempotency_key)
       VALUES ('acme', 'r1', 'customer', 'erp', 'upsert', '{}', '{}', $1)`,
      [`k${i}`],
    );
  const ids = (await listActions(db.staging.db, { tenant: 'acme' })).map((a) => Number(a.id));
  expect(ids).toEqual([...ids].sort((a, b) => a - b));
  expect(ids).toHaveLength(12);
});

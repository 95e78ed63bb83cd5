// Config expressions (sql, filter, softDelete) are raw SQL run on the source by an administrator's
// config (docs/security.md), but each one is a single expression: the snapshot query goes through
// the extended protocol, so a filter that closes its parenthesis and stacks a COMMIT and a DROP
// fails as a whole instead of running the DROP.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { assertSourceIsNotStaging } from '../../pipeline/connectors/postgres/source-not-staging.js';
import { useTestDatabase } from '../support/database.js';
import { syncOnce, systemConfig, useSourceDatabase } from '../support/postgres.js';

const staging = useTestDatabase('secfilter');
const src = useSourceDatabase();

describe('a config filter cannot stack statements', () => {
  it('"true); COMMIT; DROP TABLE x; SELECT (1" fails and drops nothing', async () => {
    await src.pool.query(`CREATE TABLE victim (id int PRIMARY KEY)`);
    await src.pool.query(`CREATE TABLE stacked (id int PRIMARY KEY, name text)`);
    await src.pool.query(`INSERT INTO stacked VALUES (1, 'a'), (2, 'b')`);
    const config = systemConfig(src.url, {
      slot: 'e_stacked',
      publication: 'e_stacked',
      tables: [
        {
          table: 'stacked',
          entity: 'customer',
          key: ['id'],
          fields: { name: 'name' },
          filter: 'true); COMMIT; DROP TABLE victim; SELECT (1',
        },
      ],
    });
    const outcome = await syncOnce(staging.staging, config, { system: 'stacked' }).then(
      (o) => o.outcome,
      (e: Error) => `threw: ${e.message}`,
    );
    expect(outcome).not.toBe('caught_up');
    const victim = await src.pool.query(`SELECT to_regclass('public.victim') IS NOT NULL AS present`);
    expect(victim.rows[0]).toEqual({ present: true });
    const staged = await staging.staging.pool.query(`SELECT count(*)::int AS n FROM staging.customer`);
    expect(staged.rows[0]).toEqual({ n: 0 });
  });
});

describe('a source that is the staging database', () => {
  it('is refused; another database of the same cluster is not', async () => {
    const detail = { tenant: 'acme', system: 'self' };
    const self = new pg.Client({ connectionString: staging.url });
    await self.connect();
    try {
      await expect(assertSourceIsNotStaging(self, staging.staging.pool, detail)).rejects.toThrow(
        /points at trueup's staging database/,
      );
    } finally {
      await self.end();
    }
    const other = new pg.Client({ connectionString: src.url });
    await other.connect();
    try {
      await expect(assertSourceIsNotStaging(other, staging.staging.pool, detail)).resolves.toBeUndefined();
    } finally {
      await other.end();
    }
  });

  it('stops a sync whose source is the staging database before anything is read', async () => {
    const config = systemConfig(staging.url, {
      slot: 'e_self',
      publication: 'e_self',
      tables: [
        {
          table: 'control.tenants',
          entity: 'customer',
          key: ['tenant_id'],
          fields: { name: 'display_name' },
        },
      ],
    });
    const outcome = await syncOnce(staging.staging, config, { system: 'self' }).then(
      (o) => o.outcome,
      (e: Error) => `threw: ${e.message}`,
    );
    expect(outcome).not.toBe('caught_up');
    const slots = await staging.staging.pool.query(
      `SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name = 'e_self'`,
    );
    expect(slots.rows[0]).toEqual({ n: 0 });
  });
});

// Hostile identifiers: tenant ids are validated with a clear error; table and column names from a
// customer's schema are quoted by the one helper and work however odd they are.
import { describe, expect, it } from 'vitest';
import { assertTenantId, quoteIdent, quoteQualified } from '../../staging/identifiers.js';
import { useTestDatabase } from '../support/database.js';

const t = useTestDatabase('ident');

const HOSTILE = [`Order "Lines"`, `weird name; DROP TABLE x; --`, `ünïcødé 名前`, `a'b`, `"`, `Mixed Case`];

describe('identifiers', () => {
  it('quotes hostile table and column names so Postgres sees exactly them', async () => {
    const pool = t.staging.pool;
    await pool.query(`CREATE SCHEMA ${quoteIdent('src schema "x"')}`);
    for (const name of HOSTILE) {
      const table = quoteQualified('src schema "x"', name);
      await pool.query(`CREATE TABLE ${table} (${quoteIdent(`${name} col`)} text)`);
      await pool.query(`INSERT INTO ${table} VALUES ($1)`, [name]);
      const res = await pool.query(`SELECT ${quoteIdent(`${name} col`)} AS v FROM ${table}`);
      expect(res.rows).toEqual([{ v: name }]);
    }
    const tables = await pool.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'src schema "x"' ORDER BY 1`,
    );
    expect(tables.rows.map((r) => r.table_name).sort()).toEqual([...HOSTILE].sort());
  });

  it('rejects what cannot be an identifier, with the reason', () => {
    expect(() => quoteIdent('')).toThrow('empty SQL identifier');
    expect(() => quoteIdent('a\0b')).toThrow('NUL byte');
    expect(() => quoteIdent('x'.repeat(64))).toThrow('longer than 63 bytes');
  });

  it('rejects hostile tenant ids with a message naming the rule', () => {
    for (const bad of [`acme'; drop`, 'Acme', 'a b', 'ünï', '', '-x', 'x'.repeat(64)]) {
      expect(() => assertTenantId(bad)).toThrow(/is not allowed: use 1-63 characters of a-z, 0-9/);
    }
    expect(assertTenantId('acme-eu_2')).toBe('acme-eu_2');
  });
});

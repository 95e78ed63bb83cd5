// Applies the numbered .sql files of sql/migrations in order, each in its own transaction that
// first records the migration (graphile-worker style). A session advisory lock serialises
// concurrent runners, so two processes migrating at once apply each file exactly once.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import type pg from 'pg';
import { sqlPath } from './package-root.js';
import { grantScopePrivileges } from './tenants.js';

export interface Migration {
  id: number;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
}

const LOCK_KEY = 7_460_118_031; // arbitrary, stable: "trueup migrations"

export async function loadMigrations(dir = sqlPath('migrations')): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = /^(\d+)_([a-z0-9_]+)\.sql$/.exec(file);
    if (!match) throw new Error(`migration file name ${file} must look like 0001_name.sql`);
    const sql = await readFile(`${dir}/${file}`, 'utf8');
    migrations.push({
      id: Number(match[1]),
      name: file.replace(/\.sql$/, ''),
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  migrations.forEach((m, i) => {
    if (m.id !== i + 1)
      throw new Error(
        `migrations must be numbered 1, 2, 3… without gaps; found ${m.name} at position ${i + 1}`,
      );
  });
  return migrations;
}

export async function migrate(
  pool: pg.Pool,
  opts: { migrations?: Migration[] } = {},
): Promise<MigrateResult> {
  const migrations = opts.migrations ?? (await loadMigrations());
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS trueup_meta;
        CREATE TABLE IF NOT EXISTS trueup_meta.migrations (
          id integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const { rows } = await client.query<{ id: number; name: string; checksum: string }>(
        'SELECT id, name, checksum FROM trueup_meta.migrations ORDER BY id',
      );
      const done = new Map(rows.map((r) => [r.id, r]));
      for (const row of rows) {
        const known = migrations.find((m) => m.id === row.id);
        if (!known)
          throw new Error(
            `the database has migration ${row.name}, which this trueup does not know: is it older than the database?`,
          );
        if (known.checksum !== row.checksum)
          throw new Error(
            `migration ${row.name} was changed after it was applied; add a new migration instead of editing it`,
          );
      }
      const applied: string[] = [];
      for (const m of migrations) {
        if (done.has(m.id)) continue;
        await client.query('BEGIN');
        try {
          await client.query('INSERT INTO trueup_meta.migrations (id, name, checksum) VALUES ($1, $2, $3)', [
            m.id,
            m.name,
            m.checksum,
          ]);
          await client.query(m.sql);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new Error(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
        }
        applied.push(m.name);
      }
      // Tables added by these migrations reach the tenant-scoped roles that exist already.
      if (applied.length) await regrantScopedRoles(client);
      return { applied, alreadyApplied: done.size };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

/** Grants the scope privileges again to every recorded tenant role that still exists. */
async function regrantScopedRoles(client: pg.PoolClient): Promise<void> {
  const { rows } = await client.query<{ role: string }>(
    `SELECT DISTINCT r.role_name AS role FROM control.tenant_roles r
      WHERE EXISTS (SELECT 1 FROM pg_roles p WHERE p.rolname = r.role_name) ORDER BY 1`,
  );
  for (const { role } of rows) await grantScopePrivileges(client, role);
}

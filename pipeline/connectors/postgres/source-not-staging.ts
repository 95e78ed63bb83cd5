// A Postgres source must not be trueup's own staging database: config expressions run on the
// source (docs/security.md), and a source pointed at staging would let a tenant's config read and
// snapshot every tenant's staged rows. Same cluster (system identifier, or server address and
// port when the identifier is not readable) and same database name → refused, terminal.
import type pg from 'pg';
import { CdcError, type CdcErrorDetail } from './errors.js';

interface DatabaseIdentity {
  cluster: string;
  db: string;
}

async function identity(q: pg.ClientBase | pg.Pool): Promise<DatabaseIdentity> {
  try {
    const { rows } = await q.query<{ cluster: string; db: string }>(
      'SELECT system_identifier::text AS cluster, current_database() AS db FROM pg_control_system()',
    );
    if (rows[0]) return rows[0];
  } catch {
    // pg_control_system() may be restricted for a least-privilege role: fall back to the address.
  }
  const { rows } = await q.query<{ cluster: string; db: string }>(
    `SELECT coalesce(host(inet_server_addr()), 'local') || ':' || current_setting('port') AS cluster,
            current_database() AS db`,
  );
  return rows[0]!;
}

export async function assertSourceIsNotStaging(
  source: pg.ClientBase,
  staging: pg.Pool,
  detail: CdcErrorDetail,
): Promise<void> {
  const [a, b] = await Promise.all([identity(source), identity(staging)]);
  if (a.cluster === b.cluster && a.db === b.db)
    throw new CdcError(
      `tenant ${detail.tenant}, system ${detail.system}: the source connection points at trueup's staging database ` +
        `("${a.db}"); a Postgres source must be another database`,
      'terminal',
      detail,
    );
}

// createTenantRole never sends the role's password in clear text: Postgres writes failed (and,
// with log_statement, all) DDL statements to its log, and trueup forwards the embedded cluster's
// log to its own debug log.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { type PostgresServer, startEmbedded } from '../../pipeline/embedded/postgres-server.js';
import { migrate } from '../../staging/migrate.js';
import { createTenantRole } from '../../staging/tenants.js';

let server: PostgresServer | undefined;
let folder: string | undefined;
afterAll(async () => {
  await server?.release();
  if (folder) await rm(folder, { recursive: true, force: true });
});

it('keeps a tenant role password out of the server log, and the role can log in with it', async () => {
  folder = await mkdtemp(join(tmpdir(), 'trueup-role-pw-'));
  const lines: string[] = [];
  server = await startEmbedded({
    dataDir: join(folder, 'pg'),
    settings: { log_statement: 'ddl' },
    log: (l) => lines.push(l),
  });
  const pool = new pg.Pool({ connectionString: server.url, max: 2 });
  try {
    await migrate(pool);
    const password = 'pw-Sc0ped-secret-91';
    await createTenantRole(pool, 'acme_reader', password, 'acme');
    const url = new URL(server.url);
    url.username = 'acme_reader';
    url.password = password;
    const c = new pg.Client({ connectionString: url.toString() });
    await c.connect();
    expect((await c.query('SELECT control.tenants_of(current_user) AS t')).rows).toEqual([{ t: ['acme'] }]);
    await c.end();
    await new Promise((r) => setTimeout(r, 200)); // let the server's log lines arrive
    expect(lines.join('\n')).toContain('CREATE ROLE');
    expect(lines.join('\n')).not.toContain(password);
  } finally {
    await pool.end();
  }
});

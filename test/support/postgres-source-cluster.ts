// A dedicated source cluster for the tests that restart their source or change its settings.
// By default an embedded Postgres (pipeline/embedded/postgres-server.ts); with TRUEUP_TEST_PG_BIN set (as
// run-pg15.sh does) a cluster of those binaries, so the whole CDC suite can run against another
// Postgres major version. Settings are passed on the command line and last until the next start.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type PostgresServer, startEmbedded, withDatabase } from '../../pipeline/embedded/postgres-server.js';

const BASE_SETTINGS: Record<string, string> = {
  wal_level: 'logical',
  max_replication_slots: '64',
  max_wal_senders: '64',
  max_connections: '200',
  listen_addresses: '127.0.0.1',
};

export async function startSourceServer(opts: {
  dataDir: string;
  port: number;
  settings?: Record<string, string>;
}): Promise<PostgresServer> {
  const bin = process.env.TRUEUP_TEST_PG_BIN;
  if (!bin) return startEmbedded(opts);
  // Asynchronous: a stop waits for the walsenders to flush to this process's replication clients.
  const run = promisify(execFile);
  const as = (cmd: string, args: string[]) =>
    process.getuid?.() === 0
      ? run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args])
      : run(join(bin, cmd), args);
  const parent = join(opts.dataDir, '..');
  if (!existsSync(join(opts.dataDir, 'PG_VERSION'))) {
    chmodSync(parent, 0o777);
    const pw = join(parent, 'pw');
    writeFileSync(pw, 'trueup\n', { mode: 0o644 });
    await as('initdb', [
      '-D',
      opts.dataDir,
      '-U',
      'trueup',
      `--pwfile=${pw}`,
      '-A',
      'scram-sha-256',
      '--no-sync',
    ]);
  }
  const flags = Object.entries({ ...BASE_SETTINGS, ...opts.settings })
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(' ');
  const log = join(parent, 'source.log');
  await as('pg_ctl', [
    '-D',
    opts.dataDir,
    '-l',
    log,
    '-w',
    '-o',
    `-p ${opts.port} -k ${parent} ${flags}`,
    'start',
  ]);
  const url = `postgres://trueup:trueup@127.0.0.1:${opts.port}/postgres`;
  let stopped = false;
  return {
    url,
    embedded: false,
    urlFor: (db) => withDatabase(url, db),
    async release() {
      if (stopped) return;
      stopped = true;
      await as('pg_ctl', ['-D', opts.dataDir, '-m', 'fast', '-w', 'stop']);
    },
  };
}

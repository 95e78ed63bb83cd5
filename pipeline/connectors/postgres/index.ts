// The `postgres` connector: change data capture through logical replication (a consistent
// snapshot, then the pgoutput stream), driven by the source state machine (source-machine.ts,
// sync-source.ts), and the corrective writer (writer.ts: UPDATE/INSERT through the mapping's
// reverse), and the bounded re-read (reread.ts: keyset chunks in a snapshot consistent with the
// stream). No sandbox: any Postgres with wal_level=logical is one.
import { TrueupError } from '../../../staging/model/errors.js';
import type { Connector } from '../contract.js';
import { type PostgresSystemConfig, postgresSystemConfig, replicationNames } from './config.js';
import { postgresRemapper } from './remap.js';
import { rereadPostgres } from './reread.js';
import { runSource } from './sync-source.js';
import { createPostgresWriter } from './writer.js';

export const postgresConnector: Connector<PostgresSystemConfig> = {
  kind: 'postgres',
  title: 'Postgres CDC (snapshot, then logical replication with pgoutput; one reader per slot)',
  configSchema: postgresSystemConfig,
  // Validated by the config loader already; parsing again would reject the resolved password
  // in `connection` (the file schema accepts it only as a reference).
  parseConfig: (loaded) => {
    if ((loaded as { kind?: unknown } | null)?.kind !== 'postgres')
      throw new TrueupError('not a postgres system config');
    return loaded as PostgresSystemConfig;
  },
  capture: {
    mode: 'continuous',
    async run(sys, how) {
      const r = await runSource({
        tenant: sys.tenant,
        system: sys.system,
        config: sys.config,
        staging: sys.staging,
        logger: sys.logger,
        once: how.once,
        resnapshot: how.resnapshot,
        entities: sys.options.entities,
        ...(how.signal ? { signal: how.signal } : {}),
      });
      const slot = replicationNames(sys.tenant, sys.system, sys.config).slot;
      const stopped = r.stoppedTables.length ? `; stopped tables: ${r.stoppedTables.join(', ')}` : '';
      return { outcome: r.outcome, ...(r.error ? { error: r.error } : {}), detail: `slot ${slot}${stopped}` };
    },
  },
  reread: rereadPostgres,
  remapper: postgresRemapper,
  writer: (sys) => createPostgresWriter(sys),
};

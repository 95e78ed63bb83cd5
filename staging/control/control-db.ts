// Kysely over a pg pool or over one pg client, for the control modules' queries where the caller
// holds plain pg: a reconcile thread's own pool, or a client inside the transaction in which a run
// writes its results (COPY needs the raw client; the kysely queries run on that same client).
import { Kysely, PostgresDialect, type PostgresPool } from 'kysely';
import type pg from 'pg';
import type { Database, Db } from '../database.js';

const made = new WeakMap<object, Db>();

function kyselyOver(key: object, pool: PostgresPool): Db {
  let db = made.get(key);
  if (!db) {
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    made.set(key, db);
  }
  return db;
}

/** Kysely running every query on `client`, inside whatever transaction the client holds. */
export function clientDb(client: pg.ClientBase): Db {
  const one = {
    query: (text: string, values: readonly unknown[]) => client.query(text, [...values]),
    release() {},
  };
  return kyselyOver(client, {
    connect: async () => one as never,
    end: async () => {},
  });
}

/** Kysely over a pg pool (one that no Staging handle wraps). Never destroy it: it would end the pool. */
export function poolDb(pool: pg.Pool): Db {
  return kyselyOver(pool, pool as unknown as PostgresPool);
}

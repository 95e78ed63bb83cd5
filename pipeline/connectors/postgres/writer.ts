// The corrective writer of a `postgres` system (docs/apply.md). Canonical fields go back through
// the table mapping's reverse: only plain-column fields are writable (an SQL-expression field is
// read-only, a key column is the record's identity); an upsert is an UPDATE of the row by its key,
// a create an INSERT (keys from their defaults), one transaction per batch and a savepoint per
// record, so a rejected row fails alone. Compare-and-set: the rows are locked and read through the
// same mapping capture uses; a row whose updatedAt — or, without one, whose values — differ from
// what reconciliation saw is not touched (result STALE).
//
// The writer's session is a replication origin (`trueup_apply_<tenant>_<system>`): pgoutput then
// sends an Origin message before each of its transactions, and the CDC reader tags those changes
// (ORIGIN_TAG in the staged raw) as trueup's own echo. Each batch commits its number as the
// origin's position, atomically with the rows: after a crash, pg_replication_origin_progress
// says whether the batch committed (`committed`), so nothing is written twice.
import type pg from 'pg';
import { classifyPgError } from '../../../staging/errors.js';
import type { Entity } from '../../../staging/model/entities.js';
import { TrueupError } from '../../../staging/model/errors.js';
import type {
  CanonicalWrite,
  ConnectorWriter,
  CurrentRecord,
  SystemHandle,
  WriteBatch,
  WriteResult,
} from '../contract.js';
import { instantMicros, sameFieldValue } from './canonical-equal.js';
import type { PostgresSystemConfig } from './config.js';
import { bigIntToLsn, lsnToBigInt } from './lsn.js';
import { TableMapper } from './mapping.js';
import { connectSource } from './source-admin.js';
import { insertRow, keyValues, lockRows, readMapped, updateRow, type WriteTable } from './writer-rows.js';

/** Replication origins of trueup's writers start with this; the CDC reader recognises them. */
export const APPLY_ORIGIN_PREFIX = 'trueup_apply_';
/** The key a streamed change of trueup's own write carries in its raw record: `<origin>@<batch lsn>`. */
export const ORIGIN_TAG = '__trueup_origin';
export const POSTGRES_BATCH_LIMIT = 500;

export function applyOriginName(tenant: string, system: string): string {
  return `${APPLY_ORIGIN_PREFIX}${tenant}_${system}`;
}

export class PostgresWriteError extends TrueupError {
  override name = 'PostgresWriteError';
}

export function createPostgresWriter(sys: SystemHandle<PostgresSystemConfig>): ConnectorWriter {
  const { tenant, system, config } = sys;
  const where = `tenant ${tenant}, system ${system}`;
  const origin = applyOriginName(tenant, system);
  const mappers = new Map(config.tables.map((t) => [t.entity, new TableMapper(t)]));
  const otherRef = config.role === 'crm' ? 'erp_ref' : 'crm_ref';
  const tables = new Map<Entity, WriteTable>();
  let session: Promise<pg.Client> | undefined;
  let originReady = false;
  // One session, used by one call at a time (the origin is a property of the session).
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  };

  const client = (): Promise<pg.Client> => {
    session ??= connectSource(config.connection, `trueup-apply ${tenant} ${system}`).catch((err) => {
      session = undefined;
      throw err;
    });
    return session;
  };
  const dropSession = async () => {
    const s = session;
    session = undefined;
    originReady = false;
    if (s) await (await s.catch(() => undefined))?.end().catch(() => {});
  };

  const failure = (what: string, err: unknown, entity?: Entity) => {
    const e = err as { message?: string; code?: string };
    const permission =
      e.code === '42501' && /replication origin|pg_replication_origin/i.test(e.message ?? '');
    return new PostgresWriteError(
      `${where}${entity ? `, entity ${entity}` : ''}: ${what} failed${e.code ? ` (SQLSTATE ${e.code})` : ''}: ${e.message ?? String(err)}` +
        (permission
          ? '; the writer needs a superuser or EXECUTE on pg_replication_origin_create/_session_setup/_xact_setup/_progress'
          : ''),
      { kind: classifyPgError(err), subject: { tenant, system, ...(entity ? { entity } : {}) }, cause: err },
    );
  };

  function mapperOf(entity: Entity): TableMapper {
    const m = mappers.get(entity);
    if (!m) throw new PostgresWriteError(`${where}: no source table is mapped to entity ${entity}`);
    return m;
  }

  async function tableOf(c: pg.ClientBase, entity: Entity): Promise<WriteTable> {
    const known = tables.get(entity);
    if (known) return known;
    const mapper = mapperOf(entity);
    const res = await c.query(
      `SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a
        WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`,
      [mapper.qualified],
    );
    const t = { mapper, types: new Map(res.rows.map((r) => [r.attname as string, r.type as string])) };
    tables.set(entity, t);
    return t;
  }

  function unwritable(entity: Entity, fields: readonly string[]): { field: string; reason: string }[] {
    const mapper = mappers.get(entity);
    if (!mapper)
      return fields.map((field) => ({
        field,
        reason: `no source table of this system is mapped to ${entity}`,
      }));
    const out: { field: string; reason: string }[] = [];
    for (const field of fields) {
      const source = mapper.mapping.fields[field];
      if (!source) out.push({ field, reason: `is not mapped to a column of ${mapper.label}` });
      else if (!('column' in source))
        out.push({ field, reason: `is an SQL expression in the mapping of ${mapper.label} (read-only)` });
      else if (mapper.mapping.key.includes(source.column))
        out.push({
          field,
          reason: `is a key column of ${mapper.label} (a record's identity is not corrected)`,
        });
    }
    return out;
  }

  /** Current rows: by target id where there is one, else by the back-pointer column (a created record). */
  async function readNow(
    c: pg.ClientBase,
    entity: Entity,
    refs: readonly Pick<CanonicalWrite, 'key' | 'targetId'>[],
  ): Promise<CurrentRecord[]> {
    const t = await tableOf(c, entity);
    const ids = [...new Set(refs.filter((r) => r.targetId).map((r) => r.targetId!))];
    const byId = new Map<string, Omit<CurrentRecord, 'key'>>();
    if (ids.length) {
      const keys = ids.map((id) => keyValues(t, id));
      const cols = t.mapper.mapping.key;
      for (const r of await readMapped(
        c,
        t,
        cols,
        cols.map((_c, i) => keys.map((k) => k[i]!)),
      ))
        byId.set(r.id, r.record);
    }
    const byRef = new Map<string, Omit<CurrentRecord, 'key'>>();
    const refSource = t.mapper.mapping.fields[otherRef];
    const lookups = [...new Set(refs.filter((r) => !r.targetId).map((r) => r.key))];
    if (lookups.length && refSource && 'column' in refSource)
      for (const r of await readMapped(c, t, [refSource.column], [lookups]))
        byRef.set(String(r.record.fields[otherRef]), r.record);
    const none = { found: false, id: null, fields: {}, version: null, sourceUpdatedAt: null };
    return refs.map((r) => ({
      key: r.key,
      ...((r.targetId ? byId.get(r.targetId) : byRef.get(r.key)) ?? none),
    }));
  }

  /** What differs between the row now and what reconciliation saw, or null (the compare of compare-and-set). */
  function drift(
    t: WriteTable,
    entity: Entity,
    now: Omit<CurrentRecord, 'key'>,
    r: CanonicalWrite,
  ): string | null {
    const expected = r.expected;
    if (!expected) return null;
    if (t.mapper.mapping.updatedAt && expected.sourceUpdatedAt !== null) {
      return instantMicros(now.sourceUpdatedAt) === instantMicros(expected.sourceUpdatedAt)
        ? null
        : `updated at ${now.sourceUpdatedAt ?? '(none)'}, reconciliation saw ${expected.sourceUpdatedAt}`;
    }
    const changed = Object.keys(t.mapper.mapping.fields).filter(
      (f) => f in expected.fields && !sameFieldValue(entity, f, now.fields[f], expected.fields[f]),
    );
    return changed.length ? `${changed.join(', ')} changed since reconciliation` : null;
  }

  async function ensureOrigin(c: pg.ClientBase): Promise<void> {
    if (originReady) return;
    try {
      await c.query(
        `SELECT pg_replication_origin_create($1) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_origin WHERE roname = $1)`,
        [origin],
      );
    } catch (err) {
      if ((err as { code?: string }).code !== '23505') throw err; // created by another writer meanwhile
    }
    // A killed writer's session may take a moment to end and release the origin (55000).
    for (let attempt = 0; ; attempt++) {
      try {
        await c.query('SELECT pg_replication_origin_session_setup($1)', [origin]);
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== '55000' || attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    originReady = true;
  }

  async function writeBatch(
    entity: Entity,
    records: readonly CanonicalWrite[],
    batch: WriteBatch | undefined,
  ): Promise<WriteResult[]> {
    const results: (WriteResult | undefined)[] = records.map((r) => {
      const bad = unwritable(entity, Object.keys(r.fields));
      if (!bad.length) return undefined;
      return {
        key: r.key,
        ok: false,
        id: null,
        created: null,
        error: {
          code: 'NOT_WRITABLE',
          message: `${where}, entity ${entity}: ${bad.map((b) => `field ${b.field} ${b.reason}`).join('; ')}; nothing was written`,
        },
      };
    });
    const todo = records.map((r, i) => ({ r, i })).filter((x) => !results[x.i]);
    if (!todo.length) return results as WriteResult[];
    let c: pg.Client;
    try {
      c = await client();
      if (batch) await ensureOrigin(c);
    } catch (err) {
      await dropSession();
      throw failure('opening the writer session', err, entity);
    }
    try {
      await c.query('BEGIN');
      if (batch)
        await c.query('SELECT pg_replication_origin_xact_setup($1::pg_lsn, now())', [
          bigIntToLsn(batch.batch),
        ]);
      const t = await tableOf(c, entity);
      const ids = todo.filter((x) => x.r.targetId).map((x) => x.r.targetId!);
      await lockRows(c, t, ids);
      const now = new Map(
        (
          await readNow(
            c,
            entity,
            ids.map((id) => ({ key: id, targetId: id })),
          )
        ).map((n) => [n.key, n]),
      );
      for (const { r, i } of todo) {
        await c.query('SAVEPOINT trueup_write');
        try {
          results[i] = await writeOne(c, t, entity, r, r.targetId ? now.get(r.targetId) : undefined);
          await c.query('RELEASE SAVEPOINT trueup_write');
        } catch (err) {
          if (classifyPgError(err) === 'transient') throw err;
          await c.query('ROLLBACK TO SAVEPOINT trueup_write');
          const e = err as { code?: string; message?: string };
          results[i] = {
            key: r.key,
            ok: false,
            id: null,
            created: null,
            error: {
              code: e.code ?? 'ERROR',
              message: `${where}, entity ${entity}: ${e.message ?? String(err)}`,
            },
          };
        }
      }
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      if (classifyPgError(err) === 'transient') await dropSession();
      throw failure(`writing a batch of ${todo.length} ${entity} record(s)`, err, entity);
    }
    return results as WriteResult[];
  }

  async function writeOne(
    c: pg.ClientBase,
    t: WriteTable,
    entity: Entity,
    r: CanonicalWrite,
    now: CurrentRecord | undefined,
  ): Promise<WriteResult> {
    const stale = (message: string): WriteResult => ({
      key: r.key,
      ok: false,
      id: r.targetId ?? null,
      created: null,
      error: {
        code: 'STALE',
        message: `${where}, entity ${entity}, record ${r.targetId}: ${message}; not written`,
      },
    });
    if (!r.targetId) {
      const id = await insertRow(c, t, r.fields);
      return { key: r.key, ok: true, id, created: true };
    }
    if (!now?.found) return stale("the row is gone (deleted, or out of the mapping's filter)");
    const why = drift(t, entity, now, r);
    if (why) return stale(why);
    const n = await updateRow(c, t, r.targetId, r.fields);
    return n === 1 ? { key: r.key, ok: true, id: r.targetId, created: false } : stale('the row is gone');
  }

  return {
    batchLimit: POSTGRES_BATCH_LIMIT,
    unwritable,
    upsert: (entity, records, batch) => serial(() => writeBatch(entity, records, batch)),
    read: (entity, refs) =>
      serial(async () => {
        try {
          return await readNow(await client(), entity, refs);
        } catch (err) {
          if (classifyPgError(err) === 'transient') await dropSession();
          throw failure(`reading ${entity} records`, err, entity);
        }
      }),
    committed: (batch) =>
      serial(async () => {
        try {
          const c = await client();
          const res = await c.query('SELECT pg_replication_origin_progress($1, true)::text AS lsn', [origin]);
          const lsn = res.rows[0]?.lsn as string | null | undefined;
          if (!lsn) return 'no';
          const at = lsnToBigInt(lsn);
          // The origin only moves forward: past the batch means someone else's batches too.
          return at === batch ? 'yes' : at < batch ? 'no' : 'unknown';
        } catch (err) {
          if ((err as { code?: string }).code === '42704') return 'no'; // no origin: nothing was ever written
          throw failure('reading the writer origin', err);
        }
      }),
    close: () =>
      serial(async () => {
        const s = session;
        if (s && originReady)
          await (await s.catch(() => undefined))
            ?.query('SELECT pg_replication_origin_session_reset()')
            .catch(() => {});
        await dropSession();
      }),
  };
}

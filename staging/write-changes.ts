// The one write path of every source into the staging mirror.
//
// A batch of canonical changes for one tenant × system × entity is validated (bad records go
// to the dead-letter table, the rest goes on), bulk-loaded into a temporary table with COPY,
// and merged with one INSERT … ON CONFLICT per kind of change under a version guard:
//   - an upsert applies only if its version is newer than the staged one, or equal with
//     different content (replaying a batch changes nothing, an older version is ignored);
//   - a delete becomes a tombstone (deleted_at set, last values kept) and wins version ties,
//     so a delete followed by an older or equal upsert stays deleted — except in an `ordered`
//     batch (one source transaction staged in order: the later change wins a tie);
//   - within a batch, of several changes of one record the newest wins, the later one on ties;
//   - an upsert with `keepFields` (unchanged TOAST) leaves those columns as staged.
// Every applied write takes a new staged_seq. Writers of one tenant × entity are serialised by a
// transaction advisory lock, so staged_seq order equals commit order within a tenant × entity.
// The caller owns the transaction: checkpoints written beside it commit or roll back together.
//
// Fast path: when no row of the batch is staged yet (an initial load), the merge is a plain
// INSERT … SELECT. Under the advisory lock nobody else can stage those keys, so every row would
// have been inserted by the guarded statements too; the guard and ON CONFLICT cost nothing then.
// Rows travel in binary COPY as text, cast to the column types by the merge statements.
//
// Two halves: prepareChanges (prepare-changes.ts) does everything that needs no database
// (validation, collapsing, encoding the COPY stream) and writePrepared the rest, inside the
// caller's transaction, in three round trips for an initial load (lock and input table; COPY;
// test-and-insert). writeChanges is the two in a row.
import type pg from 'pg';
import { addDeadLetters } from './control/dead-letters.js';
import { copyBinaryBuffers } from './copy-csv.js';
import { quoteIdent, quoteLiteral } from './identifiers.js';
import { ENTITY_FIELDS, type Entity, type FieldDef, type FieldType } from './model/entities.js';
import { type PreparedBatch, prepareChanges, type WriteInput } from './prepare-changes.js';

export interface WriteResult {
  received: number;
  inserted: number;
  updated: number;
  /** Older or identical versions: nothing changed. */
  ignored: number;
  deadLettered: number;
}

/**
 * The transaction advisory lock that serialises the writers of one tenant × entity (so that
 * staged_seq order is commit order). Anything else that writes staged rows takes it too.
 */
export function stagingLockSql(tenant: string, entity: Entity): string {
  return `SELECT pg_advisory_xact_lock(hashtext(${quoteLiteral(tenant)}), hashtext(${quoteLiteral(entity)}))`;
}

export function stagingTable(entity: Entity): string {
  return `staging.${quoteIdent(entity)}`;
}

export async function writeChanges(client: pg.ClientBase, input: WriteInput): Promise<WriteResult> {
  return writePrepared(client, prepareChanges(input));
}

/** The database half of a write: dead letters, COPY into the input table, the merge. */
export async function writePrepared(client: pg.ClientBase, batch: PreparedBatch): Promise<WriteResult> {
  const { tenant, entity } = batch;
  const defs = ENTITY_FIELDS[entity];
  const result: WriteResult = {
    received: batch.received,
    inserted: 0,
    updated: 0,
    ignored: 0,
    deadLettered: batch.dead.length,
  };
  // One input table per session and entity, emptied before each batch and at commit: creating a
  // table per batch costs far more catalog work than the batch's rows do.
  const temp = `trueup_in_${entity}`;
  const cols = defs.map((d) => quoteIdent(d.name));
  const lock = stagingLockSql(tenant, entity);
  if (!batch.rows) {
    await client.query(lock);
    if (batch.dead.length) await addDeadLetters(client, [...batch.dead]);
    return result;
  }
  // Every value column is text (booleans excepted): binary COPY sends text without a CSV scan,
  // and the merge casts to the staging types (the same input functions COPY would have run).
  // One round trip for the lock and the input table: a batch's round trips wait on whatever
  // else the process is doing, so fewer of them is time saved in the serialised chain.
  await client.query(
    `${lock};
     CREATE TEMP TABLE IF NOT EXISTS ${temp} (
       source_id text, ${defs.map((d, i) => `${cols[i]} ${d.type === 'boolean' ? 'boolean' : 'text'}`).join(', ')},
       raw text, version bigint, source_updated_at text, mapping_version integer,
       is_delete boolean, keep text
     ) ON COMMIT DELETE ROWS;
     TRUNCATE ${temp}`,
  );
  if (batch.dead.length) await addDeadLetters(client, [...batch.dead]);
  await copyBinaryBuffers(
    client,
    temp,
    ['source_id', ...cols, 'raw', 'version', 'source_updated_at', 'mapping_version', 'is_delete', 'keep'],
    batch.copy,
  );

  const table = stagingTable(entity);
  const statements = mergeStatements(table, temp, defs, batch.ordered);
  return asMergeOwner(client, () => merge(client, batch, table, temp, statements, result));
}

/**
 * Runs the merge statements as the connection's own role, also inside a tenant scope (which
 * returns after them). They gain nothing from the tenant role's row security: every row they
 * insert takes its tenant_id from the write path ($1), never from the input, and ON CONFLICT
 * matches on (tenant_id, system, source_id), so a merge can only touch its own tenant's rows. And
 * they lose a lot to it: under any non-trivial policy qual, Postgres spent 1.8× the time inserting
 * and 3.4× updating (measured, 50k rows; `USING (true)` costs nothing), which halved staging
 * throughput. Reads, dead letters and checkpoints of the unit stay in the scope.
 */
async function asMergeOwner<T>(client: pg.ClientBase, fn: () => Promise<T>): Promise<T> {
  const { rows } = await client.query<{ role: string }>(
    `SELECT current_setting('role') AS role, set_config('role', 'none', true)`,
  );
  const role = rows[0]?.role ?? 'none';
  const out = await fn();
  // On an error the transaction rolls back, and SET LOCAL's role with it.
  if (role !== 'none') await client.query(`SELECT set_config('role', $1, true)`, [role]);
  return out;
}

async function merge(
  client: pg.ClientBase,
  batch: PreparedBatch,
  table: string,
  temp: string,
  statements: ReturnType<typeof mergeStatements>,
  result: WriteResult,
): Promise<WriteResult> {
  const { tenant, system } = batch;
  // The fast path's test and insert in one statement: it inserts only if no key is staged yet.
  const fast = await client.query<{ unstaged: boolean; n: number }>(
    `WITH ok AS MATERIALIZED (${unstagedSql(table, temp)}),
          ins AS (${statements.insertIfUnstaged} RETURNING 1)
     SELECT (SELECT unstaged FROM ok) AS unstaged, (SELECT count(*)::int FROM ins) AS n`,
    [tenant, system],
  );
  if (fast.rows[0]?.unstaged) {
    result.inserted = fast.rows[0].n;
    result.ignored = batch.rows - result.inserted + batch.collapsed;
    return result;
  }
  for (const [kind, sql] of Object.entries(statements.guarded) as [keyof PreparedBatch['kinds'], string][]) {
    if (!batch.kinds[kind]) continue; // nothing of this kind in the batch: skip the scan
    const res = await client.query<{ inserted: number; updated: number }>(
      `WITH merged AS (${sql})
       SELECT count(*) FILTER (WHERE inserted)::int AS inserted, count(*) FILTER (WHERE NOT inserted)::int AS updated
         FROM merged`,
      [tenant, system],
    );
    result.inserted += res.rows[0]?.inserted ?? 0;
    result.updated += res.rows[0]?.updated ?? 0;
  }
  result.ignored = batch.rows - result.inserted - result.updated + batch.collapsed;
  return result;
}

function quoteLiteralName(name: string): string {
  return `'${name.replaceAll("'", "''")}'`;
}

/**
 * SQL, one row `unstaged`: true when no key of the batch (in `temp`) is staged for this tenant and
 * system, decided by the cheapest test that can tell: the stream is empty (one index probe); or no staged key lies
 * between the batch's smallest and largest key (one range probe: a load in key order, as Bulk
 * results come); or else no key is found by a primary-key probe per row. The per-row probe is
 * LATERAL so that it stays a unique-index lookup whatever the planner believes about the table
 * (a plain join chose a prefix scan per row on a fresh table without statistics: quadratic).
 * Runs under the advisory lock, so the answer holds until commit.
 */
function unstagedSql(table: string, temp: string): string {
  return `SELECT CASE
       WHEN NOT EXISTS (SELECT 1 FROM ${table} WHERE tenant_id = $1 AND system = $2) THEN true
       WHEN NOT EXISTS (SELECT 1 FROM ${table}
                         WHERE tenant_id = $1 AND system = $2
                           AND source_id BETWEEN (SELECT min(source_id) FROM ${temp})
                                             AND (SELECT max(source_id) FROM ${temp})) THEN true
       ELSE NOT EXISTS (SELECT 1 FROM ${temp} i,
                          LATERAL (SELECT 1 FROM ${table} t
                                    WHERE t.tenant_id = $1 AND t.system = $2 AND t.source_id = i.source_id
                                    LIMIT 1) hit)
     END AS unstaged`;
}

const SQL_TYPES: Readonly<Record<FieldType, string | null>> = {
  text: null,
  currency: null,
  boolean: null,
  decimal: 'numeric',
  date: 'date',
  timestamp: 'timestamptz',
  json: 'jsonb',
};

/** The merge statements (insert-only fast path, full upserts, partial upserts, deletes); see the file header. */
function mergeStatements(
  table: string,
  temp: string,
  defs: readonly FieldDef[],
  ordered: boolean,
): { insertIfUnstaged: string; guarded: { full: string; partial: string; delete: string } } {
  const cols = defs.map((d) => quoteIdent(d.name));
  const values = defs.map((d, i) => {
    const type = SQL_TYPES[d.type];
    return type ? `${cols[i]}::${type}` : cols[i]!;
  });
  const insertCols = [
    'tenant_id',
    'system',
    'source_id',
    ...cols,
    'raw',
    'version',
    'source_updated_at',
    'deleted_at',
    'mapping_version',
    'staged_seq',
  ];
  const select = (where: string) =>
    `SELECT $1, $2, source_id, ${values.join(', ')}, raw::jsonb, version, source_updated_at::timestamptz,
            CASE WHEN is_delete THEN now() END, mapping_version, nextval('staging.staged_seq')
       FROM ${temp} WHERE ${where}`;
  const common = `version = EXCLUDED.version, staged_seq = EXCLUDED.staged_seq, staged_at = now()`;
  // On a version tie an upsert applies only if it changes something (`merged`: the raw the row
  // would get; a partial row merges its raw into the staged one, so a replay compares equal) and
  // was mapped no older than the staged row: replaying an old batch must not undo a re-mapping.
  // A tombstone of the same version stays, unless the batch is ordered (WriteInput.ordered): then
  // the upsert came after the delete and re-creates the record.
  const upsertGuard = (merged: string) => {
    const changes = `EXCLUDED.mapping_version >= t.mapping_version
            AND (t.raw, t.mapping_version) IS DISTINCT FROM (${merged}, EXCLUDED.mapping_version)`;
    return `WHERE EXCLUDED.version > t.version
        OR (EXCLUDED.version = t.version
            AND ${ordered ? `(t.deleted_at IS NOT NULL OR (${changes}))` : `t.deleted_at IS NULL AND ${changes}`})`;
  };
  const guarded = {
    full: `INSERT INTO ${table} AS t (${insertCols.join(', ')}) ${select('NOT is_delete AND keep IS NULL')}
     ON CONFLICT (tenant_id, system, source_id) DO UPDATE SET
       ${cols.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}, raw = EXCLUDED.raw,
       source_updated_at = EXCLUDED.source_updated_at, deleted_at = NULL,
       mapping_version = EXCLUDED.mapping_version, ${common}
     ${upsertGuard('EXCLUDED.raw')}
     RETURNING (xmax = 0) AS inserted`,
    // Partial rows are few (unchanged TOAST); EXCLUDED cannot see `keep`, so look it up by key.
    partial: `INSERT INTO ${table} AS t (${insertCols.join(', ')}) ${select('NOT is_delete AND keep IS NOT NULL')}
     ON CONFLICT (tenant_id, system, source_id) DO UPDATE SET
       ${defs
         .map((d) => {
           const c = quoteIdent(d.name);
           return `${c} = CASE WHEN ${quoteLiteralName(d.name)} = ANY (coalesce((SELECT keep::text[] FROM ${temp} k WHERE k.source_id = EXCLUDED.source_id), '{}'::text[]))
                         THEN t.${c} ELSE EXCLUDED.${c} END`;
         })
         .join(',\n       ')},
       raw = t.raw || EXCLUDED.raw, source_updated_at = EXCLUDED.source_updated_at, deleted_at = NULL,
       mapping_version = EXCLUDED.mapping_version, ${common}
     ${upsertGuard('t.raw || EXCLUDED.raw')}
     RETURNING (xmax = 0) AS inserted`,
    delete: `INSERT INTO ${table} AS t (${insertCols.join(', ')}) ${select('is_delete')}
     ON CONFLICT (tenant_id, system, source_id) DO UPDATE SET
       source_updated_at = coalesce(EXCLUDED.source_updated_at, t.source_updated_at),
       deleted_at = coalesce(t.deleted_at, now()), ${common}
     WHERE EXCLUDED.version > t.version OR (EXCLUDED.version = t.version AND t.deleted_at IS NULL)
     RETURNING (xmax = 0) AS inserted`,
  };
  // Used inside a statement whose CTE `ok` holds unstagedSql's answer.
  const insertIfUnstaged = `INSERT INTO ${table} (${insertCols.join(', ')}) ${select('(SELECT unstaged FROM ok)')}`;
  return { insertIfUnstaged, guarded };
}

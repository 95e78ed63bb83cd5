// Re-mapping: when a tenant's mapping for an entity changes, canonical columns are recomputed
// from the stored `raw` record, without touching the source. Rows are walked in key order in
// chunks; each chunk is mapped again (the connector's own mapper, `RecordRemap`, or a plain
// `map` of raw → fields), validated like every write (prepareChanges: a record that no longer
// validates becomes a dead letter and its staged row stays as it was), and written by a guarded
// UPDATE under the write path's advisory lock: only a row still at the version that was read
// (a newer change staged meanwhile was mapped by the current config anyway), and only when its
// canonical values or mapping version actually change. Unchanged rows are not rewritten, so their
// staged_seq does not move and the next incremental reconcile looks only at what the re-mapping
// changed. A re-mapping to a delete (a CSV delete column) goes through the one write path.
//
// Why not the write path for every row: its version guard lets an equal version through only
// when raw or the mapping version differ (write-changes.ts), so a mapping changed without a new
// `mappingVersion` would be ignored there. The UPDATE here is that guard for re-mapping: same
// version, different canonical values.
import type pg from 'pg';
import { addDeadLetters, type NewDeadLetter } from './control/dead-letters.js';
import { quoteIdent, quoteLiteral } from './identifiers.js';
import { normaliseCanonical } from './model/canonical-schemas.js';
import type { Change } from './model/change.js';
import { ENTITY_FIELDS, type Entity, type FieldType } from './model/entities.js';
import { TrueupError } from './model/errors.js';
import { prepareChanges } from './prepare-changes.js';
import { withTenantScope } from './tenant-scope.js';
import { stagingLockSql, stagingTable, writeChanges } from './write-changes.js';

/** A stored source record to map again: a staged row's raw, or the source row a dead letter kept. */
export interface RemapSource {
  /** The record as the source sent it (a staged row's `raw`, a dead letter's `record.raw`). */
  raw: unknown;
  /** What a dead letter kept beside the row (file, line, header, file version, table …); absent for a staged row. */
  letter?: Readonly<Record<string, unknown>>;
  /** Where the dead letter came from ("hubspot companies", "…/c.csv line 3"). */
  location?: string | null;
  /** The staged row's (or the stored change's) identity, version and stamp, when known. */
  stored?: {
    sourceId: string;
    version: bigint;
    sourceUpdatedAt: string | null;
    /** The stored change's canonical fields (a dead letter of the write path), for values only the source can translate. */
    fields?: Readonly<Record<string, unknown>>;
  };
  /**
   * A staged row (trueup remap), not a dead letter: a field the mapper cannot compute offline may
   * keep its staged value (`keepFields`) instead of failing the row.
   */
  staged?: true;
}

/**
 * The current mapping cannot be applied to a stored record without the source (a Postgres field
 * computed by a SQL expression, a value only the vendor can translate): a replay then stages the
 * letter's stored change as it was, if it has one; a re-mapping leaves the row as staged.
 */
export class RemapNeedsSourceError extends TrueupError {
  override name = 'RemapNeedsSourceError';
}

/** Maps a stored source record with the current mapping into a change; throws when it cannot. */
export type RecordRemap = (source: RemapSource) => Change;

export interface RemapInput {
  tenant: string;
  system: string;
  entity: Entity;
  /** The mapping version the re-mapped rows are stamped with (the entity's current one; 1 when unset). */
  mappingVersion: number;
  /** Maps a stored raw record to canonical fields; throw to dead-letter the row. */
  map?: (raw: unknown, sourceId: string) => Record<string, unknown>;
  /** The connector's mapper (wins over `map`); throw to dead-letter the row. */
  remap?: RecordRemap;
  /**
   * Every live row of the slice. Default: only rows stamped with another mapping version (the
   * mapping changed together with `mappingVersion`). Either way unchanged rows are not rewritten.
   */
  all?: boolean;
  chunkSize?: number;
  /** After each chunk: rows scanned so far (progress). */
  onChunk?: (scanned: number) => void;
}

export interface RemapResult {
  scanned: number;
  /** Rows whose canonical values or mapping version changed (staged_seq moved). */
  updated: number;
  /** Rows that no longer map or validate: dead-lettered, their staged values kept. */
  deadLettered: number;
  /** Rows the mapper could not map without the source (RemapNeedsSourceError), left as staged; set when any. */
  needsSource?: number;
  /** The first such reason. */
  needsSourceReason?: string;
}

interface StagedRow {
  source_id: string;
  raw: unknown;
  version: string;
  source_updated_at: Date | null;
}

export async function remapEntity(pool: pg.Pool, input: RemapInput): Promise<RemapResult> {
  const { tenant, system, entity } = input;
  const table = stagingTable(entity);
  const chunk = input.chunkSize ?? 5000;
  const result: RemapResult = { scanned: 0, updated: 0, deadLettered: 0 };
  const where = `tenant_id = $1 AND system = $2 AND source_id > $3 AND deleted_at IS NULL${
    input.all ? '' : ' AND mapping_version <> $5'
  }`;
  let after = '';
  for (;;) {
    const params: unknown[] = [tenant, system, after, chunk];
    if (!input.all) params.push(input.mappingVersion);
    const { rows } = await withTenantScope(pool, tenant, (c) =>
      c.query<StagedRow>(
        `SELECT source_id, raw, version, source_updated_at FROM ${table}
          WHERE ${where} ORDER BY source_id LIMIT $4`,
        params,
      ),
    );
    if (!rows.length) break;
    after = rows[rows.length - 1]!.source_id;
    result.scanned += rows.length;
    const changes: Change[] = [];
    const failures: NewDeadLetter[] = [];
    for (const r of rows) {
      const stored = {
        sourceId: r.source_id,
        version: BigInt(r.version),
        sourceUpdatedAt: r.source_updated_at?.toISOString() ?? null,
      };
      try {
        const change = input.remap
          ? input.remap({ raw: r.raw, stored, staged: true })
          : {
              ...stored,
              op: 'upsert' as const,
              fields: input.map ? input.map(r.raw, r.source_id) : {},
              raw: r.raw,
            };
        // The row's identity and version are the staged ones: a re-mapping never moves a row.
        changes.push({
          ...change,
          sourceId: r.source_id,
          version: stored.version,
          mappingVersion: input.mappingVersion,
        });
      } catch (err) {
        if (err instanceof RemapNeedsSourceError) {
          result.needsSource = (result.needsSource ?? 0) + 1;
          result.needsSourceReason ??= err.message;
          continue;
        }
        failures.push({
          tenant,
          system,
          entity,
          sourceId: r.source_id,
          record: { raw: r.raw, stored: storedOf(stored) },
          errorKind: 'mapping',
          errorMessage: `${entity} ${JSON.stringify(r.source_id)}: ${(err as Error).message}`,
          location: `remap to mapping version ${input.mappingVersion}`,
        });
      }
    }
    const written = await withTenantScope(pool, tenant, async (client) => {
      await addDeadLetters(client, failures);
      return writeRemapped(client, { tenant, system, entity, location: 'remap' }, changes);
    });
    result.updated += written.updated;
    result.deadLettered += written.deadLettered + failures.length;
    input.onChunk?.(result.scanned);
  }
  return result;
}

/**
 * Writes re-mapped changes of staged rows in the caller's transaction: validated (invalid ones
 * dead-lettered), deletes through the write path, upserts by the guarded UPDATE (same version,
 * different values or mapping version). Returns how many rows changed and how many were rejected.
 */
export async function writeRemapped(
  client: pg.ClientBase,
  scope: { tenant: string; system: string; entity: Entity; location: string },
  changes: readonly Change[],
): Promise<{ updated: number; deadLettered: number; updatedIds: Set<string> }> {
  const { tenant, system, entity } = scope;
  const prepared = prepareChanges({ ...scope, changes });
  const rejected = new Set(prepared.dead.map((d) => d.sourceId));
  // The letter keeps the staged row's raw and identity (not the refused change): a replay maps
  // it again, and knows the row is staged.
  const byId = new Map(changes.map((c) => [c.sourceId, c]));
  if (prepared.dead.length)
    await addDeadLetters(
      client,
      prepared.dead.map((d) => {
        const c = d.sourceId === null ? undefined : byId.get(d.sourceId);
        return c
          ? {
              ...d,
              record: { raw: c.raw, stored: storedOf(c) },
              location: `${scope.location} (mapping version ${c.mappingVersion ?? 1})`,
            }
          : d;
      }),
    );
  const ok = changes.filter((c) => !rejected.has(c.sourceId));
  const deletes = ok.filter((c) => c.op === 'delete');
  const upserts = ok.filter((c) => c.op === 'upsert');
  let updated = 0;
  const updatedIds = new Set<string>();
  if (deletes.length) {
    const w = await writeChanges(client, { ...scope, changes: deletes });
    updated += w.inserted + w.updated;
  }
  if (upserts.length) {
    await client.query(stagingLockSql(tenant, entity));
    const ids = await guardedUpdate(client, tenant, system, entity, upserts);
    updated += ids.length;
    for (const id of ids) updatedIds.add(id);
  }
  return { updated, deadLettered: prepared.dead.length, updatedIds };
}

/** A staged row's identity as a dead letter keeps it (the version as text: JSON has no bigint). */
function storedOf(c: { sourceId: string; version: bigint; sourceUpdatedAt?: string | null }) {
  return { sourceId: c.sourceId, version: c.version.toString(), sourceUpdatedAt: c.sourceUpdatedAt ?? null };
}

const SQL_TYPES: Readonly<Record<FieldType, string>> = {
  text: 'text',
  currency: 'text',
  boolean: 'boolean',
  decimal: 'numeric',
  date: 'date',
  timestamp: 'timestamptz',
  json: 'jsonb',
};

/** The UPDATE of re-mapped rows still at their version whose values differ; returns their ids. */
async function guardedUpdate(
  client: pg.ClientBase,
  tenant: string,
  system: string,
  entity: Entity,
  changes: readonly Change[],
): Promise<string[]> {
  const defs = ENTITY_FIELDS[entity];
  // One change per row (the last wins), each field as text the way the write path sends it.
  const byId = new Map(changes.map((c) => [c.sourceId, c]));
  const rows = [...byId.values()];
  const columns = defs.map((d) =>
    rows.map((c) => {
      const read = normaliseCanonical(entity, c.fields ?? {});
      const v = (read.ok ? read.fields : (c.fields ?? {}))[d.name];
      if (v === undefined || v === null) return null;
      return d.type === 'json' ? JSON.stringify(v) : String(v);
    }),
  );
  const cols = defs.map((d) => quoteIdent(d.name));
  // A field in keepFields (the mapper could not compute it offline) keeps the staged value.
  const typed = defs.map(
    (d, i) =>
      `CASE WHEN v.keep::jsonb ? ${quoteLiteral(d.name)} THEN t.${cols[i]} ELSE v.${cols[i]}::${SQL_TYPES[d.type]} END`,
  );
  const { rows: done } = await client.query<{ source_id: string }>(
    `UPDATE ${stagingTable(entity)} AS t
        SET (${cols.join(', ')}, mapping_version, staged_seq, staged_at)
          = (${typed.join(', ')}, v.mapping_version, nextval('staging.staged_seq'), now())
       FROM unnest($3::text[], $4::int8[], $5::int[], $6::text[]${defs.map((_d, i) => `, $${i + 7}::text[]`).join('')})
            AS v(source_id, version, mapping_version, keep, ${cols.join(', ')})
      WHERE t.tenant_id = $1 AND t.system = $2 AND t.source_id = v.source_id
        AND t.version = v.version AND t.deleted_at IS NULL
        AND (${cols.map((c) => `t.${c}`).join(', ')}, t.mapping_version)
            IS DISTINCT FROM (${typed.join(', ')}, v.mapping_version)
      RETURNING t.source_id`,
    [
      tenant,
      system,
      rows.map((c) => c.sourceId),
      rows.map((c) => c.version.toString()),
      rows.map((c) => c.mappingVersion ?? 1),
      rows.map((c) => JSON.stringify(c.keepFields ?? [])),
      ...columns,
    ],
  );
  return done.map((r) => r.source_id);
}

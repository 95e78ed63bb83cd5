// Config of a `postgres` system (CDC through logical replication): where the source is, the
// publication and slot trueup reads through, and how source tables map onto canonical entities.
//
// A mapped field is either a plain column name (`column: "write_date"`) or an SQL expression over
// the row (`sql: "\"amountMicros\" / 1000000.0"`). Expressions are the config author's SQL: the
// source Postgres evaluates them, for snapshot rows in the snapshot query and for streamed rows
// by sending the row values back through a batched query (see mapping.ts). Table and column
// names are always quoted (quoteIdent), so any name a customer's schema holds is fine.
import { z } from 'zod';
import { ENTITIES, ENTITY_FIELDS } from '../../../staging/model/entities.js';
import { timezone } from '../../../staging/model/tenant-config.js';
import { connectionUrl } from '../connector-config.js';

/** Slot and publication names become identifiers in replication commands: keep them plain. */
const REPLICATION_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

const fieldSource = z.union([
  z
    .string()
    .min(1)
    .transform((column) => ({ column })),
  z.strictObject({ column: z.string().min(1) }),
  z.strictObject({ sql: z.string().min(1) }),
]);
export type FieldSource = { column: string } | { sql: string };

export const tableMapping = z
  .strictObject({
    /** Source schema (default public). */
    schema: z.string().min(1).default('public'),
    table: z.string().min(1),
    entity: z.enum(ENTITIES),
    /** Key columns; the staged source id is the key value (several keys: a JSON array of them). */
    key: z.array(z.string().min(1)).min(1),
    /** Canonical field ← column name or {sql}. */
    fields: z.record(z.string(), fieldSource),
    /** Canonical field → (source value → canonical value); values not listed pass unchanged. */
    valueMaps: z.record(z.string(), z.record(z.string(), z.string())).default({}),
    /** SQL condition over the row; rows failing it are out of scope (an update moving a row out is a delete). */
    filter: z.string().min(1).optional(),
    /** SQL condition meaning "soft-deleted" (e.g. `"deletedAt" IS NOT NULL`): such rows stage as tombstones. */
    softDelete: z.string().min(1).optional(),
    /** Field holding the source's own modification time (canonical sourceUpdatedAt). */
    updatedAt: fieldSource.optional(),
    /** The zone of this table's timestamps without an offset; default the system's `timezone`. */
    timezone: timezone.optional(),
  })
  .superRefine((t, ctx) => {
    const known = new Set(ENTITY_FIELDS[t.entity].map((f) => f.name));
    for (const name of [...Object.keys(t.fields), ...Object.keys(t.valueMaps)])
      if (!known.has(name))
        ctx.addIssue({
          code: 'custom',
          path: ['fields', name],
          message: `${t.entity} has no canonical field "${name}"`,
        });
  });
export type TableMapping = z.infer<typeof tableMapping>;

export const postgresSystemConfig = z
  .looseObject({
    kind: z.literal('postgres'),
    role: z.enum(['crm', 'erp']),
    connection: connectionUrl(),
    /** Publication and slot; created when absent unless `requireExisting`. */
    publication: z.string().regex(REPLICATION_NAME, 'use a-z, 0-9 and "_" (max 63)').optional(),
    slot: z.string().regex(REPLICATION_NAME, 'use a-z, 0-9 and "_" (max 63)').optional(),
    requireExisting: z.boolean().default(false),
    /**
     * The IANA zone of the source's timestamps without an offset (`timestamp without time zone`,
     * as ERPNext keeps `modified` in the site's zone); default UTC (as Odoo's `write_date` is).
     */
    timezone: timezone.default('UTC'),
    tables: z.array(tableMapping).default([]),
    snapshot: z
      .strictObject({
        /** Parallel readers sharing the exported snapshot. */
        readers: z.number().int().min(1).max(16).default(2),
        /** Rows per fetch and per staging transaction. */
        batchRows: z.number().int().min(100).max(100_000).default(10_000),
      })
      .prefault({}),
    stream: z
      .strictObject({
        /**
         * Source changes held before they are written into the open staging transaction; a change
         * of a table mapped to several entities counts once (it holds a row per mapping).
         */
        chunkRows: z.number().int().min(1).max(100_000).default(5_000),
        /** Several source transactions are grouped into one staging commit up to this many rows… */
        maxGroupRows: z.number().int().min(1).max(1_000_000).default(20_000),
        /** …or this long after the first one arrived. */
        maxGroupDelayMs: z.number().int().min(0).max(60_000).default(200),
        heartbeatSeconds: z.number().min(0.05).max(3600).default(10),
        backoffMinMs: z.number().int().min(10).default(500),
        backoffMaxMs: z.number().int().min(10).default(30_000),
        /** A second reader of the same slot waits for the claim, trying again this often. */
        claimRetryMs: z.number().int().min(10).max(600_000).default(5_000),
        /**
         * With --once, transient failures are retried (with backoff) for at most this long without
         * progress; then the source fails, so a cron run ends instead of waiting for a source that
         * stays down.
         */
        onceRetryMs: z.number().int().min(0).max(86_400_000).default(300_000),
      })
      .prefault({}),
  })
  .superRefine((s, ctx) => {
    const seen = new Map<string, number>();
    s.tables.forEach((t, i) => {
      const prev = seen.get(t.entity);
      if (prev !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['tables', i, 'entity'],
          message: `entity "${t.entity}" is already mapped by tables[${prev}]: one source table per entity and system`,
        });
      seen.set(t.entity, i);
    });
  })
  // Each table carries its zone, so its mapper reads naive timestamps without the system config.
  .overwrite((s) => ({ ...s, tables: s.tables.map((t) => ({ ...t, timezone: t.timezone ?? s.timezone })) }));
export type PostgresSystemConfig = z.infer<typeof postgresSystemConfig>;

/** Default slot/publication names: per tenant and system, so tenants sharing a source never share a slot. */
export function replicationNames(
  tenant: string,
  system: string,
  cfg: Pick<PostgresSystemConfig, 'slot' | 'publication'>,
): { slot: string; publication: string } {
  const base = `trueup_${tenant}_${system}`.replaceAll('-', '_').slice(0, 63);
  return { slot: cfg.slot ?? base, publication: cfg.publication ?? base };
}

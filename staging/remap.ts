// Re-mapping: when a tenant's mapping for an entity changes, canonical columns are recomputed
// from the stored `raw` record, without touching the source. Rows are walked in key order in
// chunks; each chunk goes back through the one write path with the row's own version and the
// new mapping_version, so the version guard still holds (an equal version with a new mapping
// version counts as a change) and staged_seq moves, which tells reconcilers to refresh.
import type pg from 'pg';
import { addDeadLetters } from './control/dead-letters.js';
import type { Change } from './model/change.js';
import type { Entity } from './model/entities.js';
import { withTenantScope } from './tenant-scope.js';
import { stagingTable, writeChanges } from './write-changes.js';

export interface RemapInput {
  tenant: string;
  system: string;
  entity: Entity;
  mappingVersion: number;
  /** Maps a stored raw record to canonical fields; throw to dead-letter the row. */
  map: (raw: unknown, sourceId: string) => Record<string, unknown>;
  chunkSize?: number;
}

export interface RemapResult {
  scanned: number;
  updated: number;
  deadLettered: number;
}

export async function remapEntity(pool: pg.Pool, input: RemapInput): Promise<RemapResult> {
  const table = stagingTable(input.entity);
  const chunk = input.chunkSize ?? 5000;
  const result: RemapResult = { scanned: 0, updated: 0, deadLettered: 0 };
  let after = '';
  for (;;) {
    const { rows } = await withTenantScope(pool, input.tenant, (c) =>
      c.query<{
        source_id: string;
        raw: unknown;
        version: string;
        source_updated_at: Date | null;
      }>(
        `SELECT source_id, raw, version, source_updated_at FROM ${table}
          WHERE tenant_id = $1 AND system = $2 AND source_id > $3 AND deleted_at IS NULL
            AND mapping_version <> $4
          ORDER BY source_id LIMIT $5`,
        [input.tenant, input.system, after, input.mappingVersion, chunk],
      ),
    );
    if (!rows.length) break;
    after = rows[rows.length - 1]!.source_id;
    result.scanned += rows.length;
    const changes: Change[] = [];
    const failures: { sourceId: string; raw: unknown; message: string }[] = [];
    for (const r of rows) {
      try {
        changes.push({
          sourceId: r.source_id,
          version: BigInt(r.version),
          op: 'upsert',
          fields: input.map(r.raw, r.source_id),
          raw: r.raw,
          sourceUpdatedAt: r.source_updated_at?.toISOString() ?? null,
          mappingVersion: input.mappingVersion,
        });
      } catch (err) {
        failures.push({ sourceId: r.source_id, raw: r.raw, message: (err as Error).message });
      }
    }
    const written = await withTenantScope(pool, input.tenant, async (client) => {
      const w = await writeChanges(client, {
        tenant: input.tenant,
        system: input.system,
        entity: input.entity,
        changes,
        location: 'remap',
      });
      if (failures.length) {
        await addDeadLetters(
          client,
          failures.map((f) => ({
            tenant: input.tenant,
            system: input.system,
            entity: input.entity,
            sourceId: f.sourceId,
            record: { raw: f.raw },
            errorKind: 'mapping',
            errorMessage: `${input.entity} ${JSON.stringify(f.sourceId)}: ${f.message}`,
            location: `remap to mapping version ${input.mappingVersion}`,
          })),
        );
      }
      return w;
    });
    result.updated += written.inserted + written.updated;
    result.deadLettered += written.deadLettered + failures.length;
  }
  return result;
}

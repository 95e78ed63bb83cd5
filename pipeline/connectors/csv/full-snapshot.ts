// `snapshot: full` CSV entities: each complete file is every record of the entity, so records
// staged before and absent from it were deleted at the source. The file's reader collects the
// ids it meets; at the end of a complete file the absent live records become tombstones, staged
// in the transaction that records the file. A file cut short (parse error, no header) tombstones
// nothing; a file with fewer rows than `minSnapshotShare` of the live staged records is refused
// as a probable partial export: a dead letter, no tombstones, and the stream fails (exit 1).
import type pg from 'pg';
import type { NewDeadLetter } from '../../../staging/control/dead-letters.js';
import type { Change } from '../../../staging/model/change.js';
import type { Entity } from '../../../staging/model/entities.js';
import { TrueupError } from '../../../staging/model/errors.js';
import { withTenantScope } from '../../../staging/tenant-scope.js';
import { stagingTable } from '../../../staging/write-changes.js';

/** A full snapshot refused as a probable partial export; the stream fails with it after the file. */
export class PartialExportError extends TrueupError {
  override name = 'PartialExportError';
}

export interface FullSnapshot {
  /** Ids met in the file (staged, dead-lettered or skipped on a resume). */
  seen: Set<string>;
  /** Live staged records before the file was read (the refusal's measure). */
  liveBefore: number;
}

type Scope = { tenant: string; system: string; entity: Entity };

export async function startFullSnapshot(pool: pg.Pool, scope: Scope): Promise<FullSnapshot> {
  const res = await withTenantScope(pool, scope.tenant, (c) =>
    c.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${stagingTable(scope.entity)}
        WHERE tenant_id = $1 AND system = $2 AND deleted_at IS NULL`,
      [scope.tenant, scope.system],
    ),
  );
  return { seen: new Set(), liveBefore: Number(res.rows[0]?.n ?? 0) };
}

/** Why the file is refused (a dead letter), or null when its rows are enough. */
export function refusal(
  snap: FullSnapshot,
  rows: number,
  minShare: number,
  where: Scope & { file: { name: string; path: string } },
): NewDeadLetter | null {
  if (!snap.liveBefore || rows >= minShare * snap.liveBefore) return null;
  return {
    tenant: where.tenant,
    system: where.system,
    entity: where.entity,
    sourceId: null,
    record: { file: where.file.path, rows, liveStaged: snap.liveBefore, minSnapshotShare: minShare },
    errorKind: 'partial_export',
    errorMessage:
      `${where.file.name}: a full snapshot of ${rows} row(s), under ${minShare * 100}% of the ` +
      `${snap.liveBefore} live staged ${where.entity} records: refused as a probable partial export, ` +
      'nothing was tombstoned (minSnapshotShare)',
    location: where.file.path,
  };
}

/**
 * Tombstones of the live staged records the file did not contain. Each is newer than the staged
 * row (the file's version, or one past the row's own when that is newer), so the delete applies.
 */
export async function absentRecords(
  pool: pg.Pool,
  scope: Scope,
  snap: FullSnapshot,
  fileVersion: bigint,
  fileTime: string,
): Promise<Change[]> {
  const res = await withTenantScope(pool, scope.tenant, (c) =>
    c.query<{ source_id: string; version: string }>(
      `SELECT source_id, version::text FROM ${stagingTable(scope.entity)}
        WHERE tenant_id = $1 AND system = $2 AND deleted_at IS NULL`,
      [scope.tenant, scope.system],
    ),
  );
  const gone: Change[] = [];
  for (const r of res.rows) {
    if (snap.seen.has(r.source_id)) continue;
    const staged = BigInt(r.version);
    gone.push({
      sourceId: r.source_id,
      version: staged >= fileVersion ? staged + 1n : fileVersion,
      op: 'delete',
      raw: { absentFromFullSnapshot: true },
      sourceUpdatedAt: fileTime,
    });
  }
  return gone;
}

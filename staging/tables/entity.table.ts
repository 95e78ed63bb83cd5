// Row type shared by the six staging.<entity> tables (their canonical columns differ; they are
// typed loosely here and precisely by staging/model/canonical-schemas.ts).
import type { ColumnType, Generated } from 'kysely';

export interface StagedEntityTable {
  tenant_id: string;
  system: string;
  source_id: string;
  raw: unknown;
  version: ColumnType<string, string | bigint, string | bigint>;
  source_updated_at: Date | null;
  deleted_at: Date | null;
  mapping_version: number;
  staged_seq: ColumnType<string, string | bigint, string | bigint>;
  staged_at: Generated<Date>;
  [canonicalField: string]: unknown;
}

// What every source yields: a batch of canonical changes for one tenant, system and entity,
// plus the checkpoint that the batch brings the source to. This is the bottom of the import
// graph: connectors produce it, the staging write path consumes it.
import type { Entity } from './entities.js';

export type ChangeOp = 'upsert' | 'delete';

export interface Change {
  sourceId: string;
  /** Source-comparable position (LSN as integer, modstamp in epoch microseconds...). Newer is greater. */
  version: bigint;
  op: ChangeOp;
  /**
   * Canonical field values (already mapped). On a delete: optional, the values of a record first
   * seen deleted (kept by its tombstone); a delete of a staged record keeps the staged values.
   */
  fields?: Record<string, unknown>;
  /** The record as received from the source. */
  raw?: unknown;
  /** When the source says the record last changed (ISO 8601). */
  sourceUpdatedAt?: string | null;
  /**
   * Canonical fields whose value is unknown in this change and must keep the staged value
   * (Postgres unchanged-TOAST columns). `raw` is then merged into the staged raw.
   */
  keepFields?: readonly string[];
  mappingVersion?: number;
}

export interface Checkpoint {
  /** A stream within the system: a CDC slot, an API object cursor, a CSV folder. */
  stream: string;
  position: unknown;
}

export interface ChangeBatch {
  tenant: string;
  system: string;
  entity: Entity;
  changes: readonly Change[];
  checkpoint?: Checkpoint;
}

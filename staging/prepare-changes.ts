// The first half of the one write path (write-changes.ts): everything a write does that needs no
// database. A batch of canonical changes is validated (as strictly as Postgres will read it, so
// that one bad record becomes a dead letter instead of aborting the transaction), collapsed to
// one change per record (the newest wins, the later one on ties: a batch is in source order),
// and encoded as the binary COPY stream of the input table. Connectors prepare the next batch
// while the previous one commits (stage.ts prepareUnit).

import type { NewDeadLetter } from './control/dead-letters.js';
import { type BinaryColumnType, type CopyValue, encodeRowsBinary } from './copy-csv.js';
import { jsonHasNul, normaliseCanonical } from './model/canonical-schemas.js';
import type { Change } from './model/change.js';
import { readTimestamp } from './model/date-text.js';
import { ENTITY_FIELDS, type Entity, type FieldDef } from './model/entities.js';

export interface WriteInput {
  tenant: string;
  system: string;
  entity: Entity;
  changes: readonly Change[];
  /** Where the batch came from, for dead letters ("file.csv", "slot trueup_acme"). */
  location?: string;
  /**
   * The batch continues, in source order, every earlier write of the same version: it is part of
   * one source transaction staged in order and all in one staging transaction (the Postgres CDC
   * stream). On a version tie its changes then win, a re-created record over the tombstone of
   * the same version as much as a delete over a live row, so a key deleted and re-inserted (or
   * filtered out and back in, or moved between partitions) in one transaction stays live even
   * when the two changes fall into different batches. Without it a delete wins ties: batches of
   * other sources may arrive in any order.
   */
  ordered?: boolean;
}

/**
 * A batch validated, collapsed and encoded for COPY — all the CPU work of a write that needs no
 * database — ready for writePrepared. Connectors prepare the next batch while the previous one
 * commits, so this work stays off the serialised chain of staging transactions.
 */
export interface PreparedBatch {
  readonly prepared: true;
  readonly tenant: string;
  readonly system: string;
  readonly entity: Entity;
  readonly received: number;
  /** Deletes among the valid changes (for reports). */
  readonly deletes: number;
  readonly dead: readonly NewDeadLetter[];
  /** Valid changes that a newer change of the same record in the batch replaced. */
  readonly collapsed: number;
  /** Rows in the COPY stream. */
  readonly rows: number;
  readonly kinds: { full: boolean; partial: boolean; delete: boolean };
  readonly copy: readonly Buffer[];
  /** WriteInput.ordered. */
  readonly ordered: boolean;
}

export function prepareChanges(input: WriteInput): PreparedBatch {
  const { tenant, system, entity } = input;
  const defs = ENTITY_FIELDS[entity];
  const dead: NewDeadLetter[] = [];
  const valid: Change[] = [];
  // raw as JSON, computed once for the NUL check and the COPY row.
  const rawJson = new Map<Change, string>();
  input.changes.forEach((change, index) => {
    const checked = checkChange(entity, change);
    if (typeof checked === 'string') {
      const problem = checked;
      dead.push({
        tenant,
        system,
        entity,
        sourceId: typeof change.sourceId === 'string' ? change.sourceId : null,
        record: { change: serialisableChange(change) },
        errorKind: 'invalid_record',
        errorMessage: `${entity} ${JSON.stringify(change.sourceId)}: ${problem}`,
        location: input.location ? `${input.location} #${index + 1}` : `batch item ${index + 1}`,
      });
    } else {
      valid.push(checked.change);
      rawJson.set(checked.change, checked.raw);
    }
  });
  const changes = collapse(valid);
  return {
    prepared: true,
    tenant,
    system,
    entity,
    received: input.changes.length,
    deletes: valid.reduce((n, c) => n + (c.op === 'delete' ? 1 : 0), 0),
    dead,
    collapsed: valid.length - changes.length,
    rows: changes.length,
    kinds: {
      full: changes.some((c) => c.op === 'upsert' && !c.keepFields?.length),
      partial: changes.some((c) => c.op === 'upsert' && !!c.keepFields?.length),
      delete: changes.some((c) => c.op === 'delete'),
    },
    ordered: input.ordered === true,
    copy: changes.length
      ? encodeRowsBinary(
          copyTypes(defs),
          changes.map((c) => toCopyRow(defs, c, rawJson.get(c))),
        )
      : [],
  };
}

function copyTypes(defs: readonly FieldDef[]): BinaryColumnType[] {
  return [
    'text',
    ...defs.map((d): BinaryColumnType => (d.type === 'boolean' ? 'bool' : 'text')),
    'text',
    'int8',
    'text',
    'int4',
    'bool',
    'text',
  ];
}

/**
 * Why a change cannot be staged, or the change as it is staged (canonical values: `1e3` → `1000`,
 * `eur` → `EUR`, timestamps in UTC; the same object when nothing changes) with its raw as JSON.
 * Everything Postgres would reject is caught here (an impossible date, a NUL character in any
 * text or json value), because one rejected row would abort the whole transaction: the bad
 * record becomes a dead letter and the rest is staged.
 */
function checkChange(entity: Entity, c: Change): string | { change: Change; raw: string } {
  if (typeof c.sourceId !== 'string' || c.sourceId.length === 0) return 'sourceId must be a non-empty string';
  if (c.sourceId.includes('\0')) return 'sourceId contains a NUL character, which Postgres cannot store';
  if (typeof c.version !== 'bigint' || c.version < 0n || c.version > 9_223_372_036_854_775_807n)
    return 'version must be a non-negative 64-bit integer (bigint)';
  if (c.op !== 'upsert' && c.op !== 'delete')
    return `op must be "upsert" or "delete", got ${JSON.stringify(c.op)}`;
  let updatedAt = c.sourceUpdatedAt;
  if (updatedAt != null) {
    // Canonical UTC text: a naive stamp is UTC whatever the staging server's TimeZone setting.
    const read = typeof updatedAt === 'string' ? readTimestamp(updatedAt) : undefined;
    if (!read?.ok)
      return `sourceUpdatedAt ${JSON.stringify(updatedAt)} is not an ISO 8601 timestamp with a real date and time`;
    updatedAt = read.value;
  }
  if (
    c.mappingVersion != null &&
    (!Number.isInteger(c.mappingVersion) || c.mappingVersion < 0 || c.mappingVersion > 2_147_483_647)
  )
    return 'mappingVersion must be a non-negative 32-bit integer';
  // raw is stored for deletes too (the tombstone's COPY row carries it).
  let raw: string;
  try {
    raw = JSON.stringify(c.raw ?? {});
  } catch (err) {
    return `raw cannot be stored as JSON: ${(err as Error).message}`;
  }
  if (jsonHasNul(raw)) return 'raw contains a NUL character, which Postgres jsonb cannot store';
  let fields = c.fields;
  if (c.op === 'upsert') {
    const read = normaliseCanonical(entity, fields ?? {});
    if (!read.ok) return read.problem;
    if (fields) fields = read.fields;
    if (c.keepFields?.some((k) => !ENTITY_FIELDS[entity].some((d) => d.name === k)))
      return `keepFields names an unknown field of ${entity}`;
  } else if (fields) {
    // A delete's values are kept only for a record first seen deleted (a soft-deleted row in a
    // snapshot): values that do not validate make it a bare tombstone, never a lost delete.
    const read = normaliseCanonical(entity, fields);
    fields = read.ok ? read.fields : undefined;
  }
  const change =
    fields === c.fields && updatedAt === c.sourceUpdatedAt ? c : { ...c, fields, sourceUpdatedAt: updatedAt };
  return { change, raw };
}

/**
 * One row per sourceId: ON CONFLICT cannot touch a row twice in one statement. The newest
 * version wins (the later one on ties); a partial winner borrows the values it lacks from the
 * change it replaces.
 */
function collapse(changes: readonly Change[]): Change[] {
  const byId = new Map<string, Change>();
  for (const c of changes) {
    const prev = byId.get(c.sourceId);
    if (!prev) {
      byId.set(c.sourceId, c);
      continue;
    }
    if (c.version < prev.version) continue;
    if (c.op === 'upsert' && c.keepFields?.length && prev.op === 'upsert') {
      const prevKeep = new Set(prev.keepFields ?? []);
      const fields = { ...c.fields };
      const keep: string[] = [];
      for (const k of c.keepFields) {
        if (prevKeep.has(k)) keep.push(k);
        else fields[k] = prev.fields?.[k] ?? null;
      }
      const raw = { ...(prev.raw as object), ...(c.raw as object) };
      byId.set(c.sourceId, { ...c, fields, raw, keepFields: keep.length ? keep : undefined });
    } else byId.set(c.sourceId, c);
  }
  return [...byId.values()];
}

function toCopyRow(defs: readonly FieldDef[], c: Change, rawJson: string | undefined): CopyValue[] {
  const row: CopyValue[] = [c.sourceId];
  // A delete's fields land only when it inserts (a record first seen deleted): the tombstone
  // of a staged record keeps the staged values (write-changes.ts).
  const fields = c.fields ?? {};
  for (const d of defs) {
    const v = fields[d.name];
    if (v === undefined || v === null) row.push(null);
    else if (d.type === 'json') row.push(JSON.stringify(v));
    else if (d.type === 'boolean') row.push(Boolean(v));
    else row.push(String(v));
  }
  row.push(
    rawJson ?? JSON.stringify(c.raw ?? {}),
    c.version,
    c.sourceUpdatedAt ?? null,
    c.mappingVersion ?? 1,
    c.op === 'delete',
    c.keepFields?.length ? `{${c.keepFields.map((k) => `"${k}"`).join(',')}}` : null,
  );
  return row;
}

function serialisableChange(c: Change): unknown {
  const bigints = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);
  try {
    return JSON.parse(JSON.stringify(c, bigints));
  } catch {
    // A cycle in raw or fields: keep what identifies the change (the message says what failed).
    return JSON.parse(JSON.stringify({ sourceId: c.sourceId, version: c.version, op: c.op }, bigints));
  }
}

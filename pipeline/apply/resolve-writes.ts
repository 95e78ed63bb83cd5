// Whether logged writes reached their target, decided by asking the target, never by writing
// again: after a crash between the write and the bookkeeping (apply_log rows left `writing`), and
// when a write call failed without saying what it did. A writer that commits the batch number with
// the data (Postgres: the replication origin's position) answers for the batch; every record is
// also read now: it holds the written values → written; the batch did not commit, or the record
// is still at the version reconciliation saw → not written (the action stays approved and is
// written now, once); anything else is in doubt (skipped_stale: a person looks).
import type { Entity } from '../../staging/model/entities.js';
import type { ConnectorWriter, CurrentRecord } from '../connectors/contract.js';
import { sameFieldValue } from '../connectors/postgres/canonical-equal.js';
import type { LogEntry } from './apply-log.js';

export type Resolution =
  | { state: 'written'; now: CurrentRecord }
  | { state: 'not_written' }
  | { state: 'in_doubt'; reason: string };

/** True when the record holds every written field it maps (link fields are the identity). */
export function holds(
  entity: Entity,
  now: CurrentRecord,
  fields: Readonly<Record<string, unknown>>,
): boolean {
  return Object.entries(fields).every(
    ([f, v]) => !(f in now.fields) || sameFieldValue(entity, f, now.fields[f], v),
  );
}

/** Resolutions of the entries of one batch (one target system and entity), in order. */
export async function resolveWrites(
  writer: ConnectorWriter,
  batch: bigint,
  entries: readonly LogEntry[],
): Promise<Resolution[]> {
  if (!entries.length) return [];
  const entity = entries[0]!.entity as Entity;
  const committed = writer.committed ? await writer.committed(batch) : 'unknown';
  const live = writer.read
    ? await writer.read(
        entity,
        entries.map((e) => ({ key: e.targetKey, targetId: e.targetId })),
      )
    : entries.map(() => undefined);
  return entries.map((e, i): Resolution => {
    const now = live[i];
    if (now?.found && holds(entity, now, e.fields) && committed !== 'no') return { state: 'written', now };
    if (committed === 'no') return { state: 'not_written' };
    if (e.kind === 'create' && !now?.found) return { state: 'not_written' };
    if (
      e.kind === 'upsert' &&
      now?.found &&
      now.version !== null &&
      e.observedVersion !== null &&
      now.version <= BigInt(e.observedVersion)
    )
      return { state: 'not_written' };
    return {
      state: 'in_doubt',
      reason: `an interrupted apply (batch ${batch}) may have written ${e.targetSystem}:${e.targetId ?? e.targetKey}, which ${
        now?.found ? 'no longer holds the written values' : 'cannot be found'
      }; not written again`,
    };
  });
}

// Replays dead letters through the one write path. A dead letter keeps the source row (`raw` of
// a record that failed mapping, or the raw inside the mapped change the write path refused):
// with a re-mapper for its system and entity (the connector's own mapper over the current
// config, `remappers`), the row is mapped again — so fixing a mapping and replaying recovers the
// records without touching the source. Without one, or for a letter without a source row, the
// stored change is staged as it was. A record that fails again stays open with attempts + 1 and
// the reason of this failure in last_replay_error (error_message keeps the original one); a
// success is marked replayed in the same transaction that staged it.
import type { Staging } from '../database.js';
import type { Change } from '../model/change.js';
import { type Entity, isEntity } from '../model/entities.js';
import { prepareChanges } from '../prepare-changes.js';
import { type RecordRemap, RemapNeedsSourceError, type RemapSource, writeRemapped } from '../remap.js';
import { tenantStaging } from '../scoped-staging.js';
import { withTenantScope } from '../tenant-scope.js';
import { writePrepared } from '../write-changes.js';
import { clientDb } from './control-db.js';
import { type DeadLetter, listDeadLetters, markReplayed, markReplayFailed } from './dead-letters.js';

/**
 * The current mapper of one system × entity of the tenant, or undefined when its kind has none.
 * May throw (a system the config no longer has, a mapping that cannot be compiled): every letter
 * of that system × entity then fails with that message.
 */
export type Remappers = (system: string, entity: Entity) => RecordRemap | undefined;

export interface ReplayResult {
  replayed: string[];
  failed: { id: string; message: string }[];
  /** Of the replayed, those mapped again with the current mapping. */
  remapped: number;
}

export async function replayDeadLetters(
  staging: Staging,
  filter: { tenant: string; ids?: readonly string[]; system?: string; entity?: string },
  remap?: { remappers: Remappers },
): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: [], failed: [], remapped: 0 };
  // Everything a replay reads and writes is the tenant's: on a handle scoped to it.
  staging = tenantStaging(staging, filter.tenant);
  const mappers = remap ? cachedRemappers(remap.remappers) : undefined;
  // A page of letters at a time (a tenant may hold millions after a bad mapping): in id order, so
  // a letter that fails again is not read twice.
  for (let afterId: string | undefined, page: DeadLetter[]; ; afterId = page.at(-1)!.id) {
    page = await listDeadLetters(staging.db, {
      ...filter,
      status: 'open',
      limit: REPLAY_PAGE,
      ...(afterId !== undefined ? { afterId } : {}),
    });
    if (!page.length) break;
    for (const dl of page) await replayOne(staging, dl, result, mappers);
  }
  return result;
}

/** Letters read per query by replayDeadLetters. */
const REPLAY_PAGE = 500;

type Lookup = (system: string, entity: Entity) => RecordRemap | Error | undefined;

function cachedRemappers(remappers: Remappers): Lookup {
  const cache = new Map<string, RecordRemap | Error | undefined>();
  return (system, entity) => {
    const key = `${system}\0${entity}`;
    if (!cache.has(key)) {
      try {
        cache.set(key, remappers(system, entity));
      } catch (err) {
        cache.set(key, err as Error);
      }
    }
    return cache.get(key);
  };
}

async function replayOne(
  staging: Staging,
  dl: DeadLetter,
  result: ReplayResult,
  mappers: Lookup | undefined,
): Promise<void> {
  const fail = async (message: string) => {
    result.failed.push({ id: dl.id, message });
    await markReplayFailed(staging.db, dl.tenant, dl.id, message);
  };
  if (!isEntity(dl.entity)) return fail(`unknown entity "${dl.entity}"`);
  if ((dl.record as { nulReplaced?: unknown } | null)?.nulReplaced === true)
    return fail(
      `record ${dl.id} held NUL characters, replaced when it was dead-lettered: fix it at the source`,
    );
  // What no mapping can recover: bytes that were not UTF-8 (the stored row holds U+FFFD in their
  // place), and a write-back the target refused (re-decide the action instead).
  if (dl.errorKind === 'encoding')
    return fail(
      'the row was not UTF-8 where it was read: re-export the file as UTF-8 and drop it again, then discard this letter',
    );
  if (dl.errorKind === 'write_rejected')
    return fail(
      'a write-back the target system refused is not staged again: review the action, then discard this letter',
    );
  const entity = dl.entity;
  const stored = storedChange(dl);
  const source = letterSource(dl, stored);
  const mapper = mappers?.(dl.system, entity);
  let change: Change | null = null;
  let remapped = false;
  let notRemapped = '';
  if (mapper instanceof Error) return fail(`cannot map ${dl.system} ${entity} again: ${mapper.message}`);
  if (mapper && source) {
    try {
      change = mapper(source);
      remapped = true;
    } catch (err) {
      // A kind that cannot map this letter offline (a Postgres SQL expression) says why; a
      // stored change, if any, is then staged as it was.
      if (!stored || !(err instanceof RemapNeedsSourceError))
        return fail(`still failing: ${(err as Error).message}`);
      change = stored;
      notRemapped = ` (the stored change was tried: it cannot be mapped again offline: ${(err as Error).message})`;
    }
  } else change = stored;
  if (!change)
    return fail(
      source
        ? `dead letter ${dl.id} holds the source row but no mapper for system "${dl.system}" (${entity}) was given: replay it with \`trueup dlq replay\`, which maps it with the current config`
        : (dl.record as { file?: unknown } | null)?.file !== undefined
          ? `dead letter ${dl.id} stands for a whole file (${dl.errorKind}), no row of it is kept: after fixing the config, re-read the file's records with \`trueup backfill\`, then discard this letter`
          : `dead letter ${dl.id} holds no mapped change and no source row to map again (${dl.errorKind}): fix it at the source, then discard it`,
    );
  // Validated first: a record that is still invalid fails with today's reason, not the stored one.
  const batch = prepareChanges({ tenant: dl.tenant, system: dl.system, entity, changes: [change] });
  const rejected = batch.dead[0];
  if (rejected) return fail(`still invalid: ${rejected.errorMessage}${notRemapped}`);
  await withTenantScope(staging.pool, dl.tenant, async (client) => {
    const w = await writePrepared(client, batch);
    // The same version already staged with other values (a row a re-mapping dead-lettered, the
    // record staged by a later read): the write path's guard ignores an equal version with the
    // same raw, so the re-mapped values are written by the re-mapping's guarded update.
    if (w.ignored && change.op === 'upsert')
      await writeRemapped(client, { tenant: dl.tenant, system: dl.system, entity, location: 'dlq replay' }, [
        change,
      ]);
    await markReplayed(clientDb(client), dl.tenant, dl.id);
  });
  result.replayed.push(dl.id);
  if (remapped) result.remapped++;
}

/** The mapped change a letter holds (`record.change`, the write path's letters), if any. */
function storedChange(dl: DeadLetter): Change | null {
  const c = (dl.record as { change?: Record<string, unknown> } | null)?.change;
  if (
    !c ||
    typeof c.sourceId !== 'string' ||
    (typeof c.version !== 'string' && typeof c.version !== 'number')
  )
    return null;
  try {
    return { ...(c as unknown as Change), version: BigInt(c.version) };
  } catch {
    return null;
  }
}

/**
 * The source row a letter kept, to map again: the raw of its stored change, or the `raw` a
 * connector stored for a record that failed mapping (with what it kept beside it).
 */
export function letterSource(dl: DeadLetter, stored: Change | null = storedChange(dl)): RemapSource | null {
  const record = dl.record as Record<string, unknown> | null;
  if (stored && stored.raw !== undefined && stored.raw !== null)
    return {
      raw: stored.raw,
      location: dl.location,
      stored: {
        sourceId: stored.sourceId,
        version: stored.version,
        sourceUpdatedAt: stored.sourceUpdatedAt ?? null,
        ...(stored.fields ? { fields: stored.fields } : {}),
      },
    };
  if (!record || typeof record !== 'object' || record.raw === undefined || record.raw === null) return null;
  const { raw, stored: kept, ...letter } = record;
  const s = kept as { sourceId?: unknown; version?: unknown; sourceUpdatedAt?: unknown } | undefined;
  let version: bigint | undefined;
  try {
    version =
      s && (typeof s.version === 'string' || typeof s.version === 'number') ? BigInt(s.version) : undefined;
  } catch {
    version = undefined;
  }
  return {
    raw,
    letter,
    location: dl.location,
    // A letter of a re-mapping (`trueup remap`) keeps the staged row's identity: the row is staged.
    ...(s && typeof s.sourceId === 'string' && version !== undefined
      ? {
          stored: {
            sourceId: s.sourceId,
            version,
            sourceUpdatedAt: typeof s.sourceUpdatedAt === 'string' ? s.sourceUpdatedAt : null,
          },
          staged: true as const,
        }
      : {}),
  };
}

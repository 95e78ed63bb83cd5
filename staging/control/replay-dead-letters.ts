// Replays dead letters through the one write path. A dead letter that holds a mapped change is
// staged again as it is; one that holds only the raw record needs the connector's mapper
// (`remap`). A record that fails again stays open with attempts + 1 and the reason of this
// failure in last_replay_error (error_message keeps the original one); a success is marked
// replayed in the same transaction that staged it.
import type { Staging } from '../database.js';
import type { Change } from '../model/change.js';
import { isEntity } from '../model/entities.js';
import { prepareChanges } from '../prepare-changes.js';
import { tenantStaging } from '../scoped-staging.js';
import { withTenantScope } from '../tenant-scope.js';
import { writePrepared } from '../write-changes.js';
import { clientDb } from './control-db.js';
import { type DeadLetter, listDeadLetters, markReplayed, markReplayFailed } from './dead-letters.js';

export type Remapper = (dl: DeadLetter) => Change | null;

export interface ReplayResult {
  replayed: string[];
  failed: { id: string; message: string }[];
}

export async function replayDeadLetters(
  staging: Staging,
  filter: { tenant: string; ids?: readonly string[]; system?: string; entity?: string },
  remap?: Remapper,
): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: [], failed: [] };
  // Everything a replay reads and writes is the tenant's: on a handle scoped to it.
  staging = tenantStaging(staging, filter.tenant);
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
    await replayPage(staging, page, result, remap);
  }
  return result;
}

/** Letters read per query by replayDeadLetters. */
const REPLAY_PAGE = 500;

async function replayPage(
  staging: Staging,
  letters: readonly DeadLetter[],
  result: ReplayResult,
  remap: Remapper | undefined,
): Promise<void> {
  for (const dl of letters) {
    const change = toChange(dl) ?? remap?.(dl) ?? null;
    const fail = async (message: string) => {
      result.failed.push({ id: dl.id, message });
      await markReplayFailed(staging.db, dl.tenant, dl.id, message);
    };
    if (!change) {
      await fail(
        `dead letter ${dl.id} holds no mapped change and no mapper for system "${dl.system}" was given`,
      );
      continue;
    }
    if (!isEntity(dl.entity)) {
      await fail(`unknown entity "${dl.entity}"`);
      continue;
    }
    if ((dl.record as { nulReplaced?: unknown } | null)?.nulReplaced === true) {
      await fail(
        `record ${dl.id} held NUL characters, replaced when it was dead-lettered: fix it at the source`,
      );
      continue;
    }
    const entity = dl.entity;
    // Validated first: a record that is still invalid fails with today's reason, not the stored one.
    const batch = prepareChanges({ tenant: dl.tenant, system: dl.system, entity, changes: [change] });
    const rejected = batch.dead[0];
    if (rejected) {
      await fail(`still invalid: ${rejected.errorMessage}`);
      continue;
    }
    await withTenantScope(staging.pool, dl.tenant, async (client) => {
      await writePrepared(client, batch);
      await markReplayed(clientDb(client), dl.tenant, dl.id);
    });
    result.replayed.push(dl.id);
  }
}

function toChange(dl: DeadLetter): Change | null {
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

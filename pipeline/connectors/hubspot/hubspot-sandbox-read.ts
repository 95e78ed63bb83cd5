// The HubSpot sandbox's batch read (POST /crm/v3/objects/{type}/batch/read): at most 100 inputs,
// looked up by `idProperty` (default the record id), rendered with the requested `properties`
// plus the idProperty; inputs without a live record come back as one 207 error
// (OBJECT_NOT_FOUND, `context.ids`). The write-back step reads records this way before it writes
// them (compare-and-set, dry-run): unlike search, batch read sees a write at once.
import type { SandboxResponse } from '../http/sandbox-server.js';
import type { HubspotObjectType } from './config.js';
import type { HubspotRecord } from './hubspot-extractor.js';
import { hubspotError } from './hubspot-sandbox-wire.js';

interface Stored {
  id: string;
  properties: Record<string, string | null>;
}

/** What the read needs of the sandbox's store. */
export interface ReadStore {
  live(type: HubspotObjectType): Stored[];
  render(type: HubspotObjectType, r: Stored, props?: readonly string[]): HubspotRecord;
}

export function batchRead(
  store: ReadStore,
  type: HubspotObjectType,
  body: { inputs?: unknown; idProperty?: unknown; properties?: unknown },
): SandboxResponse {
  const inputs = body.inputs;
  if (!Array.isArray(inputs) || inputs.length > 100)
    return hubspotError(400, 'inputs must be an array of at most 100 items', 'VALIDATION_ERROR');
  const idProperty = typeof body.idProperty === 'string' ? body.idProperty : 'hs_object_id';
  const props = Array.isArray(body.properties) ? body.properties.map(String) : [];
  const live = store.live(type);
  const results: HubspotRecord[] = [];
  const missing: string[] = [];
  for (const input of inputs as { id?: unknown }[]) {
    const id = String(input?.id ?? '');
    const rec = live.find((r) => (idProperty === 'hs_object_id' ? r.id : r.properties[idProperty]) === id);
    if (!rec) missing.push(id);
    else results.push(store.render(type, rec, [...new Set([...props, idProperty])]));
  }
  const now = new Date().toISOString();
  const out: Record<string, unknown> = { status: 'COMPLETE', results, startedAt: now, completedAt: now };
  if (missing.length)
    Object.assign(out, {
      numErrors: 1,
      errors: [
        {
          status: 'error',
          category: 'OBJECT_NOT_FOUND',
          message: `Could not get some ${type} objects, they may be deleted or not exist. Check that ids are valid.`,
          context: { ids: missing },
        },
      ],
    });
  return { status: missing.length ? 207 : 200, body: out };
}

// The HubSpot sandbox's batch upsert (POST /crm/v3/objects/{type}/batch/upsert), as WIRE.md
// "Batch upsert" has it: at most 100 inputs; `idProperty` must be a unique-value property; when
// every input carries an `objectWriteTraceId`, invalid inputs fail alone (207, each error's
// `context.objectWriteTraceId` naming it) and results carry their trace id; without trace ids one
// invalid value fails the whole batch with a 400 and nothing is written. Results render the
// record's properties without promising to echo `idProperty`.
import type { SandboxResponse } from '../http/sandbox-server.js';
import type { HubspotObjectType } from './config.js';
import type { HubspotRecord } from './hubspot-extractor.js';
import { hubspotError } from './hubspot-sandbox-wire.js';

interface Stored {
  id: string;
  properties: Record<string, string | null>;
}

/** What the upsert needs of the sandbox's store. */
export interface UpsertStore {
  live(type: HubspotObjectType): Stored[];
  create(type: HubspotObjectType, properties: Record<string, string | null>): Stored;
  update(type: HubspotObjectType, id: string, properties: Record<string, string | null>): Stored;
  render(type: HubspotObjectType, r: Stored, props?: readonly string[]): HubspotRecord;
  /** Counts the records written, by id. */
  apiWrites?: Map<string, number>;
}

interface Input {
  id?: unknown;
  idProperty?: unknown;
  properties?: Record<string, string | null>;
  objectWriteTraceId?: unknown;
}

/** Number properties of the default objects (a value that is not a number is invalid). */
const NUMBER_PROPS = new Set(['price', 'amount', 'hs_amount_billed', 'hs_balance_due']);

function invalidValue(input: Input): string | null {
  const bad = Object.entries(input.properties ?? {}).find(
    ([k, v]) => NUMBER_PROPS.has(k) && v !== null && v !== '' && Number.isNaN(Number(v)),
  );
  return bad ? `Property values were not valid: ${bad[0]}=${JSON.stringify(bad[1])} is not a number` : null;
}

export function batchUpsert(
  store: UpsertStore,
  type: HubspotObjectType,
  body: { inputs?: unknown },
  opts: { uniqueProperties: ReadonlySet<string>; now: () => number },
): SandboxResponse {
  const inputs = body.inputs;
  if (!Array.isArray(inputs) || inputs.length > 100)
    return hubspotError(400, 'inputs must be an array of at most 100 items', 'VALIDATION_ERROR');
  for (const input of inputs as Input[]) {
    if (typeof input?.id !== 'string' || typeof input.idProperty !== 'string')
      return hubspotError(400, 'Each input needs an id and an idProperty', 'VALIDATION_ERROR');
    if (!opts.uniqueProperties.has(input.idProperty))
      return hubspotError(
        400,
        `Property "${input.idProperty}" is not a unique identifier property for ${type}`,
        'VALIDATION_ERROR',
      );
  }
  const traced = (inputs as Input[]).every(
    (i) => typeof i.objectWriteTraceId === 'string' && i.objectWriteTraceId,
  );
  if (!traced) {
    const bad = (inputs as Input[]).map(invalidValue).find((m) => m !== null);
    if (bad) return hubspotError(400, bad, 'VALIDATION_ERROR');
  }
  const started = new Date(opts.now()).toISOString();
  const results: HubspotRecord[] = [];
  const errors: unknown[] = [];
  for (const input of inputs as Input[]) {
    const bad = invalidValue(input);
    const trace = input.objectWriteTraceId as string | undefined;
    if (bad) {
      errors.push({
        status: 'error',
        category: 'VALIDATION_ERROR',
        message: bad,
        context: { objectWriteTraceId: [trace] },
        errors: [{ message: bad, in: 'properties' }],
        links: {},
      });
      continue;
    }
    const idProperty = input.idProperty as string;
    const existing = store.live(type).find((r) => r.properties[idProperty] === input.id);
    const props = { ...input.properties, [idProperty]: input.id as string };
    const rec = existing ? store.update(type, existing.id, props) : store.create(type, props);
    store.apiWrites?.set(rec.id, (store.apiWrites.get(rec.id) ?? 0) + 1);
    // The written properties, as HubSpot renders them, without the idProperty it was matched on.
    const shown = Object.keys(input.properties ?? {}).filter((p) => p !== idProperty);
    const out = store.render(type, rec, shown.length ? shown : ['hs_object_id']) as HubspotRecord &
      Record<string, unknown>;
    out.new = !existing;
    if (trace) out.objectWriteTraceId = trace;
    results.push(out);
  }
  const completed = new Date(opts.now()).toISOString();
  const response: Record<string, unknown> = {
    status: 'COMPLETE',
    results,
    startedAt: started,
    completedAt: completed,
  };
  if (errors.length) Object.assign(response, { numErrors: errors.length, errors });
  return { status: errors.length ? 207 : 200, body: response };
}

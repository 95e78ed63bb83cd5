// The vendor writers behind the common ConnectorWriter: their inputs from canonical records, and
// their answers as one result per record in input order, whatever order a vendor answers in.
import type { Entity } from '../../staging/model/entities.js';
import type {
  CanonicalWrite,
  ConnectorWriter,
  SystemHandle,
  WriteResult,
  WriterOptions,
} from './contract.js';

/** One result per record, in input order (by key); a record the target said nothing about failed. */
export function inInputOrder(
  records: readonly CanonicalWrite[],
  results: readonly WriteResult[],
): WriteResult[] {
  const byKey = new Map(results.map((r) => [r.key, r]));
  return records.map(
    (r) =>
      byKey.get(r.key) ?? {
        key: r.key,
        ok: false,
        id: null,
        created: null,
        error: { code: 'NO_RESULT', message: 'the target system gave no result for this record' },
      },
  );
}

/**
 * A vendor writer that answers with `written` and `failed` lists behind the common interface:
 * `input` builds its input from a canonical record; `key` names the field holding the record's
 * key in both lists, `id` the field of a written entry holding the target system's id.
 */
export function outcomeWriter<I, W, F extends { code: string; message: string }>(
  vendor: {
    upsert(entity: Entity, inputs: I[]): Promise<{ written: readonly W[]; failed: readonly F[] }>;
    close(): Promise<void>;
  },
  input: (r: CanonicalWrite) => I,
  names: { key: keyof W & keyof F; id: keyof W },
): ConnectorWriter {
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return asConnectorWriter(vendor, input, (records, out) =>
    inInputOrder(records, [
      ...out.written.map((w) => ({
        key: String(w[names.key]),
        ok: true,
        id: text(w[names.id]),
        created: (w as { created?: boolean }).created ?? null,
      })),
      ...out.failed.map((f) => ({
        key: String(f[names.key]),
        ok: false,
        id: null,
        created: null,
        error: { code: f.code, message: f.message },
      })),
    ]),
  );
}

/** The options a vendor writer takes: the given limits, the given or the run's entity configs. */
export function vendorWriterOptions(sys: SystemHandle<unknown>, opts: WriterOptions = {}): WriterOptions {
  const entities = opts.entities ?? sys.options.entities;
  return { ...(opts.limits ? { limits: opts.limits } : {}), ...(entities ? { entities } : {}) };
}

/** A vendor writer behind the common interface: records in through `toInput`, results out through `toResults`. */
export function asConnectorWriter<I, O>(
  vendor: { upsert(entity: Entity, inputs: I[]): Promise<O>; close(): Promise<void> },
  toInput: (r: CanonicalWrite) => I,
  toResults: (records: readonly CanonicalWrite[], out: O) => WriteResult[],
): ConnectorWriter {
  return {
    upsert: async (entity, records) => toResults(records, await vendor.upsert(entity, records.map(toInput))),
    close: () => vendor.close(),
  };
}

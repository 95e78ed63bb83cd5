// Small builders shared by tests: canonical changes for the write path, and a log sink that
// collects the JSON lines a logger writes.
import { Writable } from 'node:stream';
import type { Change } from '../../staging/model/change.js';

/** An upsert of `fields` (raw defaults to the same object). */
export const up = (
  sourceId: string,
  version: bigint,
  fields: Record<string, unknown>,
  raw: unknown = fields,
): Change => ({ sourceId, version, op: 'upsert', fields, raw });

/** A delete. */
export const del = (sourceId: string, version: bigint): Change => ({ sourceId, version, op: 'delete' });

/** A stream to give a logger as its destination, and the lines written to it. */
export function logSink(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { lines, stream };
}

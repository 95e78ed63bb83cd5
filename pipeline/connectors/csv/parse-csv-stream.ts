// Streaming CSV parsing with fast-csv: rows of cells from a byte stream (any delimiter, blank
// lines kept for line numbers), with backpressure (the source is read only as fast as rows are
// consumed), so memory does not grow with the input. The parse runs on a parse thread
// (csv-parse-thread.ts) and rows come back in groups, so that parsing a large input (Salesforce
// Bulk results, dropped files) runs beside the caller's own work on the rows.
import { Readable } from 'node:stream';
import { TrueupError } from '../../../staging/model/errors.js';
import { type FromParseThread, ParseThread } from './csv-parse-thread.js';

export interface CsvStreamOptions {
  delimiter?: string;
  /** Keep blank lines as [""] rows (the file connector counts them for line numbers). */
  keepEmpty?: boolean;
}

/** fast-csv's options for a parse: rows as arrays of cells, the same on either thread. */
function fastCsvOptions(opts: CsvStreamOptions): {
  headers: false;
  ignoreEmpty: boolean;
  delimiter?: string;
} {
  return {
    headers: false,
    ignoreEmpty: !opts.keepEmpty,
    ...(opts.delimiter ? { delimiter: opts.delimiter } : {}),
  };
}

/** A CSV body fast-csv could not parse (the message is fast-csv's). */
export class CsvParseError extends TrueupError {
  override name = 'CsvParseError';
}

/** Bytes sent to the parse thread and not parsed yet: more is read from the source only below this. */
const MAX_UNPARSED_BYTES = 1 << 20;
/** Groups parsed and not yet taken by the consumer: the source pauses at this many. */
const MAX_QUEUED_GROUPS = 6;

/**
 * Rows of a byte stream (UTF-8, comma, RFC 4180) parsed by fast-csv on a parse thread, in
 * groups of up to `groupSize` rows, in order. Memory stays bounded whatever the input size: the
 * source is paused while MAX_UNPARSED_BYTES wait in the thread or MAX_QUEUED_GROUPS wait for the
 * consumer, so the thread parses ahead of the consumer by at most that much. An error of the
 * source surfaces here as it is (after the rows parsed before it); leaving the loop early ends
 * the source and the thread.
 */
export async function* parseCsvChunks(
  source: AsyncIterable<Uint8Array>,
  opts: CsvStreamOptions & { groupSize?: number } = {},
): AsyncGenerator<string[][]> {
  const { groupSize = 2000, ...csv } = opts;
  const readable = source instanceof Readable ? source : Readable.from(source, { objectMode: false });
  const queue: string[][][] = [];
  let unparsed = 0;
  let done = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const blocked = () => unparsed >= MAX_UNPARSED_BYTES || queue.length >= MAX_QUEUED_GROUPS;
  const flow = () => {
    if (!blocked() && readable.isPaused() && !readable.readableEnded) readable.resume();
  };
  const thread = ParseThread.take((m: FromParseThread | { type: 'failed'; err: Error }) => {
    if (m.type === 'rows') queue.push(m.rows);
    else if (m.type === 'ack') {
      unparsed -= m.bytes;
      flow();
    } else if (m.type === 'done') done = true;
    else failure ??= m.type === 'error' ? new CsvParseError(m.message) : m.err;
    const w = wake;
    wake = undefined;
    w?.();
  });
  thread.post({ type: 'start', options: fastCsvOptions(csv), groupSize });
  readable.on('data', (piece: Uint8Array) => {
    // A copy of exactly this piece, moved to the thread (the piece may view a larger pool).
    const bytes = new Uint8Array(piece);
    unparsed += bytes.byteLength;
    thread.post({ type: 'data', bytes }, [bytes.buffer as ArrayBuffer]);
    if (blocked()) readable.pause();
  });
  readable.once('end', () => thread.post({ type: 'end' }));
  readable.once('error', (err) => {
    failure ??= err;
    const w = wake;
    wake = undefined;
    w?.();
  });
  let ended = false;
  try {
    for (;;) {
      const rows = queue.shift();
      if (rows) {
        flow();
        yield rows;
      } else if (failure) throw failure;
      else if (done) {
        ended = true;
        return;
      } else await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    readable.removeAllListeners('data');
    if (!readable.destroyed) readable.destroy();
    if (ended) thread.release();
    else thread.terminate();
  }
}

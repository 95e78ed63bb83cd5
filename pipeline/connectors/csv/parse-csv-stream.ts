// Streaming CSV parsing of dropped files: rows of cells from a byte stream through fast-csv (any
// delimiter, blank lines kept for line numbers), with backpressure (the source is read only as
// fast as rows are consumed), so memory does not grow with the input. Salesforce Bulk results
// take the same parser through parseCsvChunks, which hands rows on in arrays (one await per
// group of rows instead of one per row).
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'fast-csv';

export interface CsvStreamOptions {
  delimiter?: string;
  /** Keep blank lines as [""] rows (the file connector counts them for line numbers). */
  keepEmpty?: boolean;
}

/** Yields each row as an array of cells ("" for an empty cell). A source error surfaces here. */
export async function* parseCsvStream(
  source: Readable,
  opts: CsvStreamOptions = {},
): AsyncGenerator<string[]> {
  const parser = parse<string[], string[]>({
    headers: false,
    ignoreEmpty: !opts.keepEmpty,
    ...(opts.delimiter ? { delimiter: opts.delimiter } : {}),
  });
  const done = pipeline(source, parser);
  let failure: unknown;
  done.catch((err: unknown) => {
    failure = err;
  });
  try {
    for await (const row of parser) yield row as string[];
    await done;
  } finally {
    if (!source.destroyed) source.destroy();
  }
  if (failure) throw failure;
}

/**
 * Rows of a byte stream (UTF-8, comma, RFC 4180) through fast-csv, grouped into arrays of up to
 * `groupSize` rows. An error of the source surfaces here; leaving the loop early ends the source.
 */
export async function* parseCsvChunks(
  source: AsyncIterable<Uint8Array>,
  groupSize = 2000,
): AsyncGenerator<string[][]> {
  const readable = source instanceof Readable ? source : Readable.from(source, { objectMode: false });
  let group: string[][] = [];
  for await (const row of parseCsvStream(readable)) {
    group.push(row);
    if (group.length >= groupSize) {
      yield group;
      group = [];
    }
  }
  if (group.length) yield group;
}

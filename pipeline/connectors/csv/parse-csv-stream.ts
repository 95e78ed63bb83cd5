// Streaming CSV parsing shared by the file-drop connector and the Salesforce Bulk results: rows
// of cells from a byte stream through fast-csv, with backpressure (the source is read only as
// fast as rows are consumed), so memory does not grow with the input.
import type { Readable } from 'node:stream';
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

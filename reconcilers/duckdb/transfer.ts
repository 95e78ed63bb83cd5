// Moving rows between Postgres and a job's DuckDB without touching them in JavaScript. DuckDB has
// no network access here (no postgres extension), so rows travel as CSV through files: Postgres
// `COPY (SELECT …) TO STDOUT` is streamed by pg-copy-streams into a file that DuckDB reads with its
// parallel CSV reader, and DuckDB `COPY (…) TO file` is streamed into Postgres `COPY … FROM STDIN`.
// JavaScript only moves buffers, never rows (the discrepancies and actions a job decides go by
// COPY as well: staging/control/copy-rows.ts).
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { Duck } from './duck.js';
import { narrowFiles, privateDir, privateWriteStream } from './private-files.js';

/** One CSV column as DuckDB should read it. */
export interface CsvColumn {
  name: string;
  duckType: string;
}

/** A scratch folder of one job (under the tenant's mirror folder, 0700), emptied on close. */
export class Scratch {
  private n = 0;
  constructor(readonly dir: string) {}
  async open(): Promise<this> {
    await rm(this.dir, { recursive: true, force: true });
    await privateDir(this.dir);
    return this;
  }
  file(stem: string): string {
    return join(this.dir, `${stem}-${this.n++}.csv`);
  }
  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Streams the rows of a Postgres SELECT (trueup-built SQL, no parameters) into a CSV file. */
export async function pgToFile(client: pg.ClientBase, select: string, file: string): Promise<void> {
  await pipeline(client.query(copyTo(`COPY (${select}) TO STDOUT (FORMAT csv)`)), privateWriteStream(file));
}

/**
 * The DuckDB table function reading CSV files written by `pgToFile` or DuckDB itself. Both end
 * lines with \n; the line ending is named because DuckDB otherwise guesses it, and a quoted value
 * holding \r\n (a key with a trailing CRLF) throws its CSV state machine off.
 */
export function readCsv(columns: readonly CsvColumn[]): string {
  const spec = columns.map((c) => `'${c.name}': '${c.duckType}'`).join(', ');
  return `read_csv($files, header = false, auto_detect = false, allow_quoted_nulls = false,
    quote = '"', escape = '"', new_line = '\\n', columns = {${spec}})`;
}

/**
 * Writes the result of a DuckDB query into a Postgres table with COPY FROM STDIN. `into` is a
 * trueup-built table reference with its column list, e.g. `trueup_ids (side, source_id)`.
 */
export async function duckToPg(
  duck: Duck,
  select: string,
  client: pg.ClientBase,
  into: string,
  file: string,
  params?: Record<string, string | number | boolean | null>,
): Promise<void> {
  await duck.run(`COPY (${select}) TO '${file.replaceAll("'", "''")}' (FORMAT csv, HEADER false)`, params);
  await narrowFiles(file); // DuckDB wrote it with the umask's mode (its folder is 0700 anyway)
  await pipeline(createReadStream(file), client.query(copyFrom(`COPY ${into} FROM STDIN (FORMAT csv)`)));
}

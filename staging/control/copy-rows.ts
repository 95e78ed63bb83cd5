// Rows built in JavaScript (a run's discrepancies and actions) into a Postgres table with COPY FROM
// STDIN: Postgres parses CSV several times faster than a JSON parameter of the same rows.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/** One CSV field as Postgres COPY reads it: NULL unquoted and empty, anything else quoted. */
const csvField = (v: string | null) => (v === null ? '' : `"${v.replaceAll('"', '""')}"`);

/** `into` is a trueup-built table reference with its column list, e.g. `trueup_disc (match_key, …)`. */
export async function rowsToPg(
  client: pg.ClientBase,
  into: string,
  rows: readonly (readonly (string | null)[])[],
): Promise<void> {
  if (!rows.length) return;
  function* chunks() {
    for (let i = 0; i < rows.length; i += 1_000)
      yield rows
        .slice(i, i + 1_000)
        .map((r) => `${r.map(csvField).join(',')}\n`)
        .join('');
  }
  await pipeline(Readable.from(chunks()), client.query(copyFrom(`COPY ${into} FROM STDIN (FORMAT csv)`)));
}

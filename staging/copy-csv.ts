// Encodes rows for `COPY … FROM STDIN (FORMAT csv)`: NULL is an unquoted empty field, every
// non-null string is quoted (so '' stays distinct from NULL), quotes are doubled.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

export type CopyValue = string | number | bigint | boolean | null | undefined;

function csvField(v: CopyValue): string {
  if (typeof v === 'string') return v.includes('"') ? `"${v.replaceAll('"', '""')}"` : `"${v}"`;
  if (v === null || v === undefined) return '';
  if (typeof v === 'boolean') return v ? 't' : 'f';
  return v.toString();
}

export function csvLine(values: readonly CopyValue[]): string {
  let line = '';
  for (let i = 0; i < values.length; i++) line += (i ? ',' : '') + csvField(values[i]);
  return `${line}\n`;
}

/** Streams rows into `table (columns)` with COPY; `table` and `columns` must already be quoted SQL. */
export async function copyRows(
  client: pg.ClientBase,
  table: string,
  columns: readonly string[],
  rows: Iterable<readonly CopyValue[]>,
): Promise<void> {
  const stream = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN (FORMAT csv)`));
  async function* lines() {
    let chunk = '';
    for (const row of rows) {
      chunk += csvLine(row);
      if (chunk.length > 1 << 16) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk) yield chunk;
  }
  await pipeline(Readable.from(lines()), stream);
}

// Encodes rows for `COPY … FROM STDIN`: CSV (NULL is an unquoted empty field, every non-null
// string is quoted so '' stays distinct from NULL, quotes are doubled) and binary
// (encodeRowsBinary, sent by copyBinaryBuffers).
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

/** Column types the binary encoder writes; text carries any value Postgres parses later by a cast. */
export type BinaryColumnType = 'text' | 'int8' | 'int4' | 'bool';

const BINARY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const BINARY_BUFFER = 1 << 18;

/**
 * Sends rows encoded by encodeRowsBinary into `table (columns)` with `COPY … (FORMAT binary)`.
 * Postgres then skips the CSV scan of every field (on a loaded 2-core machine COPY of a 27-column
 * staging row costs about a third of the CSV form), and Node writes UTF-8 straight into buffers
 * instead of building escaped strings. The encoder's `types[i]` must be the exact type of column i.
 */
export async function copyBinaryBuffers(
  client: pg.ClientBase,
  table: string,
  columns: readonly string[],
  buffers: readonly Buffer[],
): Promise<void> {
  const stream = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN (FORMAT binary)`));
  await pipeline(Readable.from(buffers), stream);
}

/**
 * The binary COPY stream of `rows` (header, rows, trailer) as a few large buffers: encoding is
 * CPU work that can be done before the transaction that sends them (see stage.ts prepareUnit).
 */
export function encodeRowsBinary(
  types: readonly BinaryColumnType[],
  rows: Iterable<readonly CopyValue[]>,
): Buffer[] {
  const out: Buffer[] = [];
  let buf = Buffer.allocUnsafe(BINARY_BUFFER);
  BINARY_SIGNATURE.copy(buf, 0);
  buf.writeInt32BE(0, 11); // flags
  buf.writeInt32BE(0, 15); // header extension length
  let off = 19;
  for (const row of rows) {
    // Worst case: 3 UTF-8 bytes per UTF-16 unit, 8 bytes per number.
    let need = 2;
    for (let i = 0; i < types.length; i++) {
      const v = row[i];
      need += 4 + (typeof v === 'string' ? v.length * 3 : 8);
    }
    if (off + need > buf.length) {
      out.push(buf.subarray(0, off));
      buf = Buffer.allocUnsafe(Math.max(BINARY_BUFFER, need + 2));
      off = 0;
    }
    buf.writeInt16BE(types.length, off);
    off += 2;
    for (let i = 0; i < types.length; i++) off = writeField(buf, off, types[i]!, row[i]);
  }
  if (off + 2 > buf.length) {
    out.push(buf.subarray(0, off));
    buf = Buffer.allocUnsafe(2);
    off = 0;
  }
  buf.writeInt16BE(-1, off);
  out.push(buf.subarray(0, off + 2));
  return out;
}

function writeField(buf: Buffer, off: number, type: BinaryColumnType, v: CopyValue): number {
  if (v === null || v === undefined) {
    buf.writeInt32BE(-1, off);
    return off + 4;
  }
  switch (type) {
    case 'text': {
      const n = buf.write(typeof v === 'string' ? v : csvField(v), off + 4, 'utf8');
      buf.writeInt32BE(n, off);
      return off + 4 + n;
    }
    case 'int8':
      buf.writeInt32BE(8, off);
      buf.writeBigInt64BE(BigInt(v), off + 4);
      return off + 12;
    case 'int4':
      buf.writeInt32BE(4, off);
      buf.writeInt32BE(Number(v), off + 4);
      return off + 8;
    case 'bool':
      buf.writeInt32BE(1, off);
      buf[off + 4] = v === true || v === 't' || v === 'true' ? 1 : 0;
      return off + 5;
  }
}

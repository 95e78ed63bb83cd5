// Bulk CSV text of the sandbox's seeded records, rendered once and kept: Salesforce serves a
// finished job's results from stored files, and a sandbox that re-generated every record on every
// read (~30k rows/s) would measure itself instead of the client. A seeded record never changes
// (a write turns it into a written row, which is rendered fresh), so its text for a given field
// list stays valid; blocks of consecutive records are cached as Buffers with row offsets, so
// any run of consecutive records is one slice. Beyond the byte budget rows are rendered on the fly.
import type { SfRow } from './sandbox-data.js';
import type { ObjectStore } from './sandbox-store.js';

const BLOCK = 1024;

/** Bulk CSV quoting: every non-empty value quoted, quotes doubled; "" (null) stays empty. */
export function quoteCsv(v: string): string {
  return v === '' ? '' : `"${v.replaceAll('"', '""')}"`;
}

/** One CSV line (with its LF) of a record for a SELECT list. */
export function renderRow(row: SfRow, fields: readonly string[]): string {
  let line = '';
  for (let f = 0; f < fields.length; f++) line += (f ? ',' : '') + quoteCsv(row[fields[f]!] ?? '');
  return `${line}\n`;
}

interface Block {
  text: Buffer;
  /** Byte offset of each row in `text`, plus the end. */
  offsets: Uint32Array;
}

export class SeededRowCache {
  private readonly blocks = new Map<string, Map<number, Block>>();
  private bytes = 0;

  /** @param budgetBytes cache no more than this many bytes of rendered text */
  constructor(private readonly budgetBytes = 256 * 2 ** 20) {}

  get cachedBytes(): number {
    return this.bytes;
  }

  /** The CSV lines of seeded records [from, to) of `o` for `fields`, as Buffer slices. */
  *lines(o: ObjectStore, fields: readonly string[], from: number, to: number): Generator<Buffer> {
    const key = `${o.name}\0${fields.join(',')}`;
    let blocks = this.blocks.get(key);
    if (!blocks) {
      blocks = new Map();
      this.blocks.set(key, blocks);
    }
    for (let i = from; i < to; ) {
      const b = Math.floor(i / BLOCK);
      const start = b * BLOCK;
      const end = Math.min(to, start + BLOCK);
      let block = blocks.get(b);
      if (!block) {
        block = render(o, fields, start, Math.min(o.seeded.count, start + BLOCK));
        if (this.bytes + block.text.length <= this.budgetBytes) {
          blocks.set(b, block);
          this.bytes += block.text.length;
        }
      }
      yield block.text.subarray(block.offsets[i - start]!, block.offsets[end - start]!);
      i = end;
    }
  }
}

function render(o: ObjectStore, fields: readonly string[], from: number, to: number): Block {
  const offsets = new Uint32Array(to - from + 1);
  const lines: string[] = [];
  let bytes = 0;
  for (let i = from; i < to; i++) {
    const line = renderRow(o.seeded.record(i), fields);
    lines.push(line);
    offsets[i - from] = bytes;
    bytes += Buffer.byteLength(line);
  }
  offsets[to - from] = bytes;
  return { text: Buffer.from(lines.join('')), offsets };
}

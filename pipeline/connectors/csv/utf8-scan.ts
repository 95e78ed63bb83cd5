// Finds bytes of a dropped file that are not UTF-8, with their byte offset and physical line, as
// the bytes go to the parser: the parser would turn them into U+FFFD silently, and the record
// would stage with a changed value. The file's reader dead-letters the rows on those lines.
import { isUtf8 } from 'node:buffer';

export class Utf8Scan {
  /** Line (1-based) → byte offset of the first invalid byte on it. */
  readonly bad = new Map<number, number>();
  private offset = 0;
  private newlines = 0;
  private carry: Uint8Array = new Uint8Array(0);

  /** The bytes of `source` unchanged, scanned on the way. */
  async *wrap(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      this.scan(chunk);
      yield chunk;
    }
    this.finish();
  }

  /** The first invalid byte on lines [from, to), if any. */
  firstBad(from: number, to: number): { line: number; offset: number } | undefined {
    if (!this.bad.size) return undefined;
    for (let line = from; line < Math.max(to, from + 1); line++) {
      const offset = this.bad.get(line);
      if (offset !== undefined) return { line, offset };
    }
    return undefined;
  }

  private scan(chunk: Uint8Array): void {
    const buf = this.carry.length ? concat(this.carry, chunk) : chunk;
    const base = this.offset - this.carry.length;
    const cut = incompleteTail(buf);
    const body = buf.subarray(0, cut);
    if (isUtf8(body)) this.newlines += countNewlines(body);
    else this.walk(body, base);
    this.carry = buf.slice(cut);
    this.offset += chunk.length;
  }

  private finish(): void {
    // A sequence cut off by the end of the file.
    if (this.carry.length) this.mark(this.offset - this.carry.length);
    this.carry = new Uint8Array(0);
  }

  private mark(offset: number): void {
    const line = this.newlines + 1;
    if (!this.bad.has(line)) this.bad.set(line, offset);
  }

  /** Byte by byte (only for a piece that is not valid UTF-8): RFC 3629's well-formed sequences. */
  private walk(b: Uint8Array, base: number): void {
    let i = 0;
    while (i < b.length) {
      const b0 = b[i]!;
      if (b0 < 0x80) {
        if (b0 === 0x0a) this.newlines++;
        i++;
        continue;
      }
      const n = sequenceLength(b0);
      let ok = n > 0 && i + n <= b.length;
      for (let k = 1; ok && k < n; k++) {
        const c = b[i + k]!;
        const [lo, hi] = k === 1 ? secondByteRange(b0) : [0x80, 0xbf];
        if (c < lo || c > hi) ok = false;
      }
      if (ok) i += n;
      else {
        this.mark(base + i);
        i++;
      }
    }
  }
}

function sequenceLength(b0: number): number {
  if (b0 >= 0xc2 && b0 <= 0xdf) return 2;
  if (b0 >= 0xe0 && b0 <= 0xef) return 3;
  if (b0 >= 0xf0 && b0 <= 0xf4) return 4;
  return 0;
}

/** The allowed range of a sequence's second byte (no overlongs, no surrogates, nothing past U+10FFFF). */
function secondByteRange(b0: number): [number, number] {
  if (b0 === 0xe0) return [0xa0, 0xbf];
  if (b0 === 0xed) return [0x80, 0x9f];
  if (b0 === 0xf0) return [0x90, 0xbf];
  if (b0 === 0xf4) return [0x80, 0x8f];
  return [0x80, 0xbf];
}

/** Where a multi-byte sequence that the buffer's end cuts off starts (the length if none). */
function incompleteTail(b: Uint8Array): number {
  for (let back = 1; back <= 3 && back <= b.length; back++) {
    const i = b.length - back;
    const c = b[i]!;
    if (c >= 0x80 && c <= 0xbf) continue; // a continuation byte: look further back
    const n = sequenceLength(c);
    return n > back ? i : b.length;
  }
  return b.length;
}

function countNewlines(b: Uint8Array): number {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  let n = 0;
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) n++;
  return n;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// parseCsvChunks: fast-csv on a parse thread. Rows come back whole and in order whatever the
// byte boundaries, read-ahead is bounded (a stalled consumer stalls the source), source and
// parse errors surface, and leaving early ends the source.
import { describe, expect, it } from 'vitest';
import { CsvParseError, parseCsvChunks } from '../../../pipeline/connectors/csv/parse-csv-stream.js';
import { settled } from '../../support/wait.js';

/** The bytes of `text` in pieces of `size` bytes (so multi-byte characters are cut). */
async function* pieces(text: string, size: number): AsyncGenerator<Uint8Array> {
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function collect(source: AsyncIterable<Uint8Array>, opts = {}): Promise<string[][][]> {
  const groups: string[][][] = [];
  for await (const g of parseCsvChunks(source, opts)) groups.push(g);
  return groups;
}

describe('parseCsvChunks', () => {
  it('returns every row in order, in groups, across cut characters, quotes and line breaks', async () => {
    const rows = Array.from({ length: 2_345 }, (_, i) => [
      `00${i}`,
      i % 7 ? `Näme "${i}" — 東京` : '',
      `line\nbreak ${i}`,
    ]);
    const text = `"Id","Name","Note"\n${rows
      .map((r) => r.map((c) => (c === '' ? '' : `"${c.replaceAll('"', '""')}"`)).join(','))
      .join('\n')}\n`;
    const groups = await collect(pieces(text, 7), { groupSize: 500 });
    expect(groups.every((g) => g.length <= 500)).toBe(true);
    expect(groups.flat()).toEqual([['Id', 'Name', 'Note'], ...rows]);
  });

  it('keeps blank lines when asked (every line of a Bulk result is a record)', async () => {
    const text = '"a","b"\n"1","2"\n\n"3","4"\n';
    expect((await collect(pieces(text, 3), { keepEmpty: true })).flat()).toEqual([
      ['a', 'b'],
      ['1', '2'],
      [],
      ['3', '4'],
    ]);
    expect((await collect(pieces(text, 3))).flat()).toHaveLength(3);
  });

  it('reads ahead of a stalled consumer by a bounded amount, and ends the source when left', async () => {
    const row = `"${'x'.repeat(90)}","y"\n`;
    const piece = Buffer.from(row.repeat(640)); // ~60 KiB
    let pulled = 0;
    let closed = false;
    async function* endless(): AsyncGenerator<Uint8Array> {
      try {
        for (;;) {
          pulled += piece.length;
          yield piece;
        }
      } finally {
        closed = true;
      }
    }
    const it = parseCsvChunks(endless(), { groupSize: 1_000 })[Symbol.asyncIterator]();
    expect((await it.next()).value).toHaveLength(1_000);
    // However long the machine takes to fill the read-ahead, it stops by itself: 1 MiB waiting
    // in the thread + 6 groups queued + what the stream machinery holds.
    const stalledAt = await settled('the read-ahead to stop', () => pulled, 6);
    expect(stalledAt).toBeLessThan(4 * 2 ** 20);
    await it.return(undefined);
    expect(closed).toBe(true);
  });

  it('surfaces an error of the source after the rows before it', async () => {
    const boom = new Error('socket hang up');
    async function* cut(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('"a"\n"1"\n"2"\n');
      await new Promise((r) => setTimeout(r, 20));
      throw boom;
    }
    const seen: string[][] = [];
    await expect(
      (async () => {
        for await (const g of parseCsvChunks(cut())) seen.push(...g);
      })(),
    ).rejects.toBe(boom);
    expect(seen.length).toBeLessThanOrEqual(3);
  });

  it('reports what fast-csv cannot parse, and the next parse works', async () => {
    await expect(collect(pieces('"a","b"\n"1"x,"2"\n', 64))).rejects.toBeInstanceOf(CsvParseError);
    expect((await collect(pieces('"a"\n"1"\n', 64))).flat()).toEqual([['a'], ['1']]);
  });

  it('hands over the rows parsed before a parse error, then the error', async () => {
    const seen: string[][] = [];
    await expect(
      (async () => {
        for await (const g of parseCsvChunks(pieces('a,b\n1,2\n3,4\n"5,6\n', 64))) seen.push(...g);
      })(),
    ).rejects.toBeInstanceOf(CsvParseError);
    expect(seen).toEqual([
      ['a', 'b'],
      ['1', '2'],
      ['3', '4'],
    ]);
  });
});

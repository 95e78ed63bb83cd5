// Bytes that are not UTF-8 in a dropped file (a Latin-1 export, a cut multi-byte character)
// become dead letters naming file, line and byte offset, instead of staging with U+FFFD in place
// of the character (issue 13); the rest of the file stages.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Utf8Scan } from '../../../pipeline/connectors/csv/utf8-scan.js';
import { syncSystem } from '../../../pipeline/connectors/stream-runner.js';
import { createLogger } from '../../../pipeline/log/logger.js';
import { listDeadLetters } from '../../../staging/control/dead-letters.js';
import { useTestDatabase } from '../../support/database.js';

const t = useTestDatabase('csvenc');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trueup-csvenc-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function scan(pieces: readonly number[][]): Promise<Map<number, number>> {
  const s = new Utf8Scan();
  async function* source() {
    for (const p of pieces) yield Uint8Array.from(p);
  }
  for await (const _ of s.wrap(source()));
  return s.bad;
}

const utf8 = (text: string) => [...Buffer.from(text, 'utf8')];

describe('csv encoding', () => {
  it('dead-letters rows with bytes that are not UTF-8, naming file, line and byte offset', async () => {
    const folder = join(dir, 'enc', 'customer');
    await mkdir(folder, { recursive: true });
    const head = Buffer.from('id,name\nK1,Müller\n', 'utf8');
    const latin1 = Buffer.from('K2,M\xfcller\n', 'latin1');
    const tail = Buffer.from('K3,"Zwei\nZeilen ä"\nK4,ok\n', 'utf8');
    await writeFile(join(folder, 'mixed.csv'), Buffer.concat([head, latin1, tail]));
    const r = await syncSystem(
      { staging: t.staging, logger: createLogger({ level: 'silent' }) },
      'enc',
      'legacy',
      { kind: 'csv', role: 'erp', dropDir: join(dir, '{tenant}') },
    );
    expect(r.status, r.error).toBe('completed');
    const rows = await t.staging.pool.query(
      `SELECT source_id, name FROM staging.customer WHERE tenant_id = 'enc' ORDER BY 1`,
    );
    expect(rows.rows).toEqual([
      { source_id: 'K1', name: 'Müller' },
      { source_id: 'K3', name: 'Zwei\nZeilen ä' },
      { source_id: 'K4', name: 'ok' },
    ]);
    const dead = await listDeadLetters(t.staging.db, { tenant: 'enc' });
    expect(dead.map((d) => [d.sourceId, d.errorKind, d.errorMessage])).toEqual([
      [
        'K2',
        'encoding',
        `mixed.csv line 3: invalid UTF-8 at byte offset ${head.length + 4} (line 3): the file must be UTF-8 (re-export it as UTF-8)`,
      ],
    ]);
  });

  it('the scan: sequences split across chunks are fine; overlongs, surrogates and cut ends are not', async () => {
    const euro = utf8('a€b'); // € is three bytes
    expect(await scan([euro.slice(0, 2), euro.slice(2)])).toEqual(new Map());
    expect(await scan([utf8('x\n'), [0xc0, 0xaf]])).toEqual(new Map([[2, 2]])); // overlong "/"
    expect(await scan([[0xed, 0xa0, 0x80]])).toEqual(new Map([[1, 0]])); // a UTF-16 surrogate
    expect(await scan([utf8('ok\nok\n'), [0xe2, 0x82]])).toEqual(new Map([[3, 6]])); // cut at the end
    expect(await scan([utf8('😀').slice(0, 3), utf8('😀').slice(3)])).toEqual(new Map());
  });
});

// discrepancies.csv and actions.csv (fast-csv): the fixed column sets of columns.ts, one header
// row, RFC 4180 quoting (values keep their commas, quotes and line breaks), UTF-8 with a byte
// order mark so spreadsheets read accents, right-to-left text and emoji right, and every cell a
// spreadsheet would run as a formula neutralised (neutralise.ts).

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { format } from 'fast-csv';
import type { Column } from './columns.js';
import { neutraliseCell } from './neutralise.js';
import { writePrivateFile } from './report-files.js';

export async function writeCsv<T>(
  file: string,
  columns: readonly Column<T>[],
  rows: readonly T[],
  tenant: string,
): Promise<void> {
  await writePrivateFile(file, async (temp) => {
    const out = createWriteStream(temp, { flags: 'w' });
    const csv = format<string[], string[]>({
      headers: columns.map((c) => c.name),
      alwaysWriteHeaders: true,
      writeBOM: true,
    });
    csv.pipe(out);
    const done = once(out, 'finish');
    const failed = new Promise<never>((_, reject) => {
      csv.once('error', reject);
      out.once('error', reject);
    });
    for (const row of rows) {
      if (!csv.write(columns.map((c) => neutraliseCell(c.text(row, tenant))))) {
        await Promise.race([once(csv, 'drain'), failed]);
      }
    }
    csv.end();
    await Promise.race([done, failed]);
  });
}

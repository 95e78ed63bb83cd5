// The `csv` connector: file drops from finance or legacy systems, each file staged exactly once,
// with a bounded re-read (ids or a window of row times) over the files in the drop folder. No
// writer (a drop folder is read, never written) and no sandbox (a folder is its own sandbox).
import type { Connector } from '../contract.js';
import { type CsvSystemConfig, csvSystemConfig } from './config.js';
import { csvRemapper } from './remap.js';
import { openCsvPass, rereadCsv } from './streams.js';

export const csvConnector: Connector<CsvSystemConfig> = {
  kind: 'csv',
  title: 'CSV file drops (one folder per entity, each file staged once by content hash)',
  configSchema: csvSystemConfig,
  parseConfig: (loaded) => csvSystemConfig.parse(loaded),
  capture: { mode: 'passes', open: openCsvPass },
  reread: rereadCsv,
  remapper: csvRemapper,
};

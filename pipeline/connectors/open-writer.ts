// Opens the corrective writer of one tenant's system through its kind's connector (the write-back
// step's entry point): canonical records in, one result per record out, whatever the vendor.
import { TrueupError } from '../../staging/model/errors.js';
import type { ConnectorWriter, SyncOptions, WriterOptions } from './contract.js';
import { openSystem, type SyncDeps } from './system-handle.js';

export function openWriter(
  deps: SyncDeps,
  tenant: string,
  system: string,
  config: unknown,
  opts: SyncOptions & WriterOptions = {},
): ConnectorWriter {
  const { connector, handle } = openSystem(deps, { tenant, system, config }, opts, { writer: true });
  if (!connector.writer)
    throw new TrueupError(`connector kind "${connector.kind}" has no writer`, {
      subject: { tenant, system },
    });
  return connector.writer(handle, opts);
}
